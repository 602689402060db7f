/// A word-level diff for prose: only the paragraphs that changed, with removed words as
/// `[-…-]` and added words as `{+…+}` (or in colour on a terminal), as `git diff --word-diff`.
///
/// Works on `Character`s, Swift's grapheme clusters, so a Vietnamese letter with its diacritics
/// ("ệ", whether precomposed or not) is never split, and words are runs of letters, digits and
/// combining marks.
public enum WordDiff {
    /// Words, runs of whitespace (a newline is its own token: paragraphs end there), and single
    /// punctuation characters.
    public static func tokens(_ text: String) -> [String] {
        enum Kind { case word, space, newline, other }
        func kind(_ c: Character) -> Kind {
            if c == "\n" || c == "\r\n" { return .newline }
            if c.isWhitespace { return .space }
            if c.isLetter || c.isNumber || c.unicodeScalars.allSatisfy({ $0.properties.isAlphabetic || $0.properties.generalCategory == .nonspacingMark }) { return .word }
            return .other
        }
        var tokens: [String] = []
        var current = ""
        var currentKind: Kind?
        for c in text {
            let k = kind(c)
            if let currentKind, currentKind == k, k == .word || k == .space {
                current.append(c)
            } else {
                if !current.isEmpty { tokens.append(current) }
                current = String(c)
                currentKind = k
            }
        }
        if !current.isEmpty { tokens.append(current) }
        return tokens
    }

    public static func render(old: String, new: String, style: TerminalStyle = .plain) -> String {
        let steps = editScript(from: tokens(old), to: tokens(new))
        var out = ""
        var line = ""
        var lineChanged = false
        var paragraph = 1
        func endLine() {
            if lineChanged { out += style.cyan("@@ paragraph \(paragraph) @@") + "\n" + line + "\n" }
            line = ""
            lineChanged = false
            paragraph += 1
        }
        var index = 0
        while index < steps.count {
            switch steps[index] {
            case .same(let token):
                if token.contains("\n") { endLine() } else { line += token }
                index += 1
            case .removed, .added:
                var removed = "", added = ""
                while index < steps.count {
                    if case .removed(let t) = steps[index] { removed += t } else if case .added(let t) = steps[index] { added += t } else { break }
                    index += 1
                }
                lineChanged = true
                if !removed.isEmpty { line += style.removedWords(removed.replacingNewlines()) }
                if !added.isEmpty { line += style.addedWords(added.replacingNewlines()) }
            }
        }
        if !line.isEmpty || lineChanged { endLine() }
        return out
    }
}

extension String {
    /// Shows a removed or added paragraph break as ¶ inside the markers.
    func replacingNewlines() -> String { replacingOccurrences(of: "\n", with: "¶") }
}
