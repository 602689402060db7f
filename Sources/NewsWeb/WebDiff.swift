import NewsControl

/// A diff as the pages show it: paragraphs (word mode) or lines (line mode) of segments, each
/// kept, inserted or deleted, rendered by the templates as text, `<ins>` and `<del>`. Words are
/// `WordDiff`'s tokens: grapheme clusters, so a Vietnamese letter never loses its marks.
///
/// Bounded: the common start and end are set aside first, and at most `maximumMiddle` tokens of
/// each side are compared (the standard library's Myers difference costs O((N+M)·D)); past that
/// the diff is cut and says so, never a hung page.
public struct WebDiff: Sendable, Equatable {
    public enum Kind: String, Sendable { case same, ins, del }

    public struct Segment: Sendable, Equatable {
        public var kind: Kind
        public var text: String
    }

    /// Paragraphs or lines, each a run of segments; only those that changed, unless `all`.
    public var blocks: [[Segment]]
    public var wordsAdded: Int
    public var wordsRemoved: Int
    /// The texts differed past what is compared: the diff shown is of their first part.
    public var cut: Bool

    public static let maximumMiddle = 3000

    public enum Mode: String, Sendable { case word, line }

    public static func make(old: String, new: String, mode: Mode, all: Bool = false) -> WebDiff {
        let (a, b) = mode == .word ? (WordDiff.tokens(old), WordDiff.tokens(new)) : (lines(old), lines(new))
        var prefix = 0
        while prefix < a.count, prefix < b.count, a[prefix] == b[prefix] { prefix += 1 }
        var suffix = 0
        while suffix < a.count - prefix, suffix < b.count - prefix, a[a.count - 1 - suffix] == b[b.count - 1 - suffix] { suffix += 1 }
        var middleA = Array(a[prefix..<(a.count - suffix)]), middleB = Array(b[prefix..<(b.count - suffix)])
        let cut = middleA.count > maximumMiddle || middleB.count > maximumMiddle
        if cut {
            middleA = Array(middleA.prefix(maximumMiddle))
            middleB = Array(middleB.prefix(maximumMiddle))
        }
        var steps: [DiffStep<String>] = a[..<prefix].map { .same($0) }
        steps += editScript(from: middleA, to: middleB)
        if !cut { steps += a[(a.count - suffix)...].map { .same($0) } }

        var diff = WebDiff(blocks: [], wordsAdded: 0, wordsRemoved: 0, cut: cut)
        var block: [Segment] = []
        var changed = false
        func append(_ kind: Kind, _ text: String) {
            if let last = block.last, last.kind == kind { block[block.count - 1].text += text } else { block.append(Segment(kind: kind, text: text)) }
        }
        func endBlock() {
            if changed || all { diff.blocks.append(block) }
            block = []
            changed = false
        }
        for step in steps {
            switch step {
            case .same(let token):
                if mode == .word && token.contains("\n") { endBlock() } else { append(.same, token) }
                if mode == .line { endBlock() }
            case .added(let token):
                append(.ins, token)
                changed = true
                if isWord(token) { diff.wordsAdded += 1 }
                if mode == .line { endBlock() }
            case .removed(let token):
                append(.del, token)
                changed = true
                if isWord(token) { diff.wordsRemoved += 1 }
                if mode == .line { endBlock() }
            }
        }
        if !block.isEmpty { endBlock() }
        return diff
    }

    /// Lines with their ends, so a changed line ending shows.
    static func lines(_ text: String) -> [String] {
        var out: [String] = []
        var current = ""
        for c in text {
            current.append(c)
            if c == "\n" || c == "\r\n" {
                out.append(current)
                current = ""
            }
        }
        if !current.isEmpty { out.append(current) }
        return out
    }

    static func isWord(_ token: String) -> Bool { token.contains { $0.isLetter || $0.isNumber } }
}
