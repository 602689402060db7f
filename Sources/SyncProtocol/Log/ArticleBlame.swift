/// Who last changed each paragraph of a version: walks the version's history back, newest first,
/// and gives each line of its text to the oldest version from which it is unchanged. Pure: the
/// texts come from the caller, one older version at a time, and the walk stops as soon as every
/// line is given, so an article whose paragraphs all changed recently costs a few versions.
///
/// Lines are the unit: an article's paragraphs are its lines (blank lines between them). Lines are
/// compared whole, so a paragraph with one word changed is that version's.
public enum ArticleBlame {
    /// The most changed lines (both sides together, after the unchanged start and end are set
    /// aside) matched line by line in one step. Past it the newer version takes them all: the
    /// match costs time and memory that grow with the square of the change.
    public static let maximumChangedLines = 2_000

    public struct Attribution: Equatable, Sendable {
        /// For each line, the index of the version that introduced it: 0 for the version itself,
        /// k for the k-th older one.
        public var owners: [Int]
        /// Some step changed more than `maximumChangedLines`: its newer version took lines an
        /// older one may have written.
        public var approximate: Bool
    }

    /// Attributes each of `lines` (the text of version 0). `older` gives the text of version k
    /// (k = 1, 2, …), or nil past the oldest or where the walk must stop (then every line not
    /// given yet is the last version's). A version without text (a delete) gives nothing further back.
    public static func attribute<Line: Hashable>(_ lines: [Line], older: (Int) throws -> [Line]?) rethrows -> Attribution {
        var walk = Walk(lines)
        while !walk.isDone, let previous = try older(walk.versionsBack + 1) { walk.step(previous) }
        return walk.finish()
    }

    /// The same walk a step at a time, for a caller that reads each older text itself.
    public struct Walk<Line: Hashable> {
        private var owners: [Int]
        private var approximate = false
        /// Where each line not given yet sits in the text of the version being looked at.
        private var place: [Int: Int]
        private var current: [Line]
        /// The version being looked at: 0 for the blamed one.
        public private(set) var versionsBack = 0

        public init(_ lines: [Line]) {
            owners = [Int](repeating: -1, count: lines.count)
            place = Dictionary(uniqueKeysWithValues: lines.indices.map { ($0, $0) })
            current = lines
        }

        /// Every line is given: nothing older can change the answer.
        public var isDone: Bool { place.isEmpty }

        /// Looks one version further back, at `previous`: the lines not in it are the current version's.
        public mutating func step(_ previous: [Line]) {
            let (kept, cut) = ArticleBlame.matches(current, previous)
            approximate = approximate || cut
            var next: [Int: Int] = [:]
            next.reserveCapacity(place.count)
            for (line, at) in place {
                if let before = kept[at] { next[line] = before } else { owners[line] = versionsBack }
            }
            place = next
            current = previous
            versionsBack += 1
        }

        /// The lines still not given are the last version looked at's.
        public func finish() -> Attribution {
            var owners = owners
            for (line, _) in place { owners[line] = versionsBack }
            return Attribution(owners: owners, approximate: approximate)
        }
    }

    /// For each line of `new` that is unchanged from `old`, its place in `old`, matched in order:
    /// the common start and end directly, the middle by Myers' diff when it is small enough.
    static func matches<Line: Hashable>(_ new: [Line], _ old: [Line]) -> (kept: [Int?], cut: Bool) {
        var kept = [Int?](repeating: nil, count: new.count)
        var start = 0
        while start < new.count && start < old.count && new[start] == old[start] {
            kept[start] = start
            start += 1
        }
        var newEnd = new.count, oldEnd = old.count
        while newEnd > start && oldEnd > start && new[newEnd - 1] == old[oldEnd - 1] {
            newEnd -= 1
            oldEnd -= 1
            kept[newEnd] = oldEnd
        }
        let newMiddle = Array(new[start..<newEnd]), oldMiddle = Array(old[start..<oldEnd])
        guard !newMiddle.isEmpty && !oldMiddle.isEmpty else { return (kept, false) }
        guard newMiddle.count + oldMiddle.count <= maximumChangedLines else { return (kept, true) }
        var inserted = Set<Int>()
        var removed = Set<Int>()
        for change in newMiddle.difference(from: oldMiddle) {
            switch change {
            case .insert(let offset, _, _): inserted.insert(offset)
            case .remove(let offset, _, _): removed.insert(offset)
            }
        }
        var o = 0
        for n in newMiddle.indices where !inserted.contains(n) {
            while removed.contains(o) { o += 1 }
            kept[start + n] = start + o
            o += 1
        }
        return (kept, false)
    }
}
