import CShims
import Foundation
import SyncProtocol

/// The web view's list of articles, kept in memory in the order it is shown (newest change
/// first): built once from the heads, then moved article by article as heads move, so a page,
/// a filter or a search at 100k articles walks compact rows and never the log.
///
/// Pure: the caller hands in each article's winner, head count and title.
struct ArticleIndex {
    struct Row {
        let article: ArticlePath
        let version: VersionID
        let time: HybridTimestamp
        let deleted: Bool
        let heads: Int
        let title: String
        /// Folded name and title ("ha noi" finds "Hà Nội"), as bytes for a fast search.
        let folded: [UInt8]
        /// Which byte pairs `folded` holds (see `pairs`): a row lacking a word's pairs cannot
        /// hold the word, so most rows are passed over without a search.
        let pairs: SIMD4<UInt64>

        init(article: ArticlePath, version: VersionID, time: HybridTimestamp, deleted: Bool, heads: Int, title: String, folded: [UInt8]) {
            self.article = article
            self.version = version
            self.time = time
            self.deleted = deleted
            self.heads = heads
            self.title = title
            self.folded = folded
            pairs = ArticleIndex.pairs(folded)
        }
    }

    /// A 256-bit set of the byte pairs in `bytes` (each pair hashed to one bit). A word's set is
    /// within the set of any text holding it.
    static func pairs(_ bytes: [UInt8]) -> SIMD4<UInt64> {
        var set = SIMD4<UInt64>()
        guard bytes.count > 1 else { return set }
        for i in 1..<bytes.count {
            let bit = Int((UInt32(bytes[i - 1]) &* 31 &+ UInt32(bytes[i])) & 255)
            set[bit >> 6] |= 1 << UInt64(bit & 63)
        }
        return set
    }

    /// Each article's row, to find its place when it moves.
    private(set) var rows: [ArticlePath: Row] = [:]
    /// The rows newest change first (ties by name, descending), as shown.
    private(set) var order: [Row] = []

    var count: Int { rows.count }

    /// Shown before: later time first, then the larger name.
    private static func before(_ a: Row, _ b: Row) -> Bool {
        (a.time, a.article.rawValue) > (b.time, b.article.rawValue)
    }

    /// Puts an article in (or moves it, or takes it out with nil).
    mutating func set(_ article: ArticlePath, _ row: Row?) {
        if let old = rows.removeValue(forKey: article) {
            // `rows` and `order` hold the same rows and names are unique: the old row's place is exact.
            order.remove(at: position(of: old))
        }
        guard let row else { return }
        rows[article] = row
        order.insert(row, at: position(of: row))
    }

    /// Moves many articles at once (nil takes one out): one at a time while they are few, else in
    /// one pass (each single move shifts the array; thousands after a catch-up would not).
    mutating func update(_ changes: [ArticlePath: Row?]) {
        guard changes.count > 64 else {
            for (article, row) in changes { set(article, row) }
            return
        }
        var kept = order.filter { changes[$0.article] == nil }
        for (article, row) in changes { rows[article] = row }
        let added = changes.values.compactMap { $0 }.sorted(by: Self.before)
        // Both in shown order: merged in one pass.
        var merged: [Row] = []
        merged.reserveCapacity(kept.count + added.count)
        var k = 0, a = 0
        while k < kept.count || a < added.count {
            if a == added.count || (k < kept.count && Self.before(kept[k], added[a])) {
                merged.append(kept[k]); k += 1
            } else {
                merged.append(added[a]); a += 1
            }
        }
        kept.removeAll()
        order = merged
    }

    /// Builds it whole from rows in any order.
    mutating func rebuild(_ all: [Row]) {
        rows = Dictionary(all.map { ($0.article, $0) }, uniquingKeysWith: { $1 })
        order = rows.values.sorted(by: Self.before)
    }

    /// Where `row` goes in `order`: the first place whose row is not shown before it.
    private func position(of row: Row) -> Int {
        var low = 0, high = order.count
        while low < high {
            let mid = (low + high) / 2
            if Self.before(order[mid], row) { low = mid + 1 } else { high = mid }
        }
        return low
    }

    /// The articles a page shows: those passing `filter` whose folded name and title hold every
    /// word, in order; `total` is how many pass.
    func select(words: [String], filter: ArticlesRequest.Filter, todayStartMillis: UInt64,
                page: Int, pageSize: Int) -> (rows: [Row], total: Int, page: Int) {
        let needles = words.map { Array($0.utf8) }
        let wanted = needles.reduce(SIMD4<UInt64>()) { $0 | Self.pairs($1) }
        var matching: [Int] = []
        for at in order.indices {
            switch filter {
            case .live: if order[at].deleted { continue }
            case .deleted: if !order[at].deleted { continue }
            case .conflicts: if order[at].heads < 2 { continue }
            case .changedToday: if order[at].deleted || order[at].time.milliseconds < todayStartMillis { continue }
            }
            if order[at].pairs & wanted != wanted { continue }
            var all = true
            for needle in needles where !Self.contains(order[at].folded, needle) {
                all = false
                break
            }
            if all { matching.append(at) }
        }
        // A page past the end (any number a client sends, Int.max included) is the last one.
        let pageSize = max(pageSize, 1)
        let shown = min(max(page, 0), max(0, matching.count - 1) / pageSize)
        let start = shown * pageSize
        return (matching[start..<min(start + pageSize, matching.count)].map { order[$0] }, matching.count, shown)
    }

    /// Whether `needle` is in `haystack` (glibc's memmem: a search a query runs on every row).
    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty else { return true }
        guard haystack.count >= needle.count else { return false }
        return haystack.withUnsafeBytes { h in
            needle.withUnsafeBytes { n in newsd_memmem(h.baseAddress, UInt(h.count), n.baseAddress, UInt(n.count)) != nil }
        }
    }
}
