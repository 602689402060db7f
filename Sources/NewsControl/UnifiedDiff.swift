/// A unified diff of two texts, as `diff -u` and git print it.
public struct UnifiedDiff: Sendable {
    public var oldLabel: String
    public var newLabel: String
    public var context: Int

    public init(oldLabel: String, newLabel: String, context: Int = 3) {
        self.oldLabel = oldLabel
        self.newLabel = newLabel
        self.context = context
    }

    /// Splits after each newline, keeping it, so a missing final newline is a real difference.
    static func lines(_ text: String) -> [String] {
        var lines: [String] = []
        var current = ""
        for char in text {
            current.append(char)
            if char == "\n" || char == "\r\n" {
                lines.append(current)
                current = ""
            }
        }
        if !current.isEmpty { lines.append(current) }
        return lines
    }

    /// The diff, or an empty string when the texts are equal.
    public func render(old: String, new: String, style: TerminalStyle = .plain) -> String {
        let steps = editScript(from: Self.lines(old), to: Self.lines(new))
        guard steps.contains(where: { if case .same = $0 { false } else { true } }) else { return "" }
        var out = style.bold("--- \(oldLabel)") + "\n" + style.bold("+++ \(newLabel)") + "\n"

        // Positions (1-based line numbers before each step) for hunk headers.
        var oldLine = [Int](), newLine = [Int]()
        var o = 1, n = 1
        for step in steps {
            oldLine.append(o)
            newLine.append(n)
            switch step {
            case .same: o += 1; n += 1
            case .removed: o += 1
            case .added: n += 1
            }
        }
        let changed = steps.indices.filter { if case .same = steps[$0] { false } else { true } }
        var hunks: [ClosedRange<Int>] = []
        for index in changed {
            let range = max(0, index - context)...min(steps.count - 1, index + context)
            if let last = hunks.last, range.lowerBound <= last.upperBound + 1 {
                hunks[hunks.count - 1] = last.lowerBound...max(last.upperBound, range.upperBound)
            } else {
                hunks.append(range)
            }
        }
        for hunk in hunks {
            var oldCount = 0, newCount = 0
            for step in steps[hunk] {
                switch step {
                case .same: oldCount += 1; newCount += 1
                case .removed: oldCount += 1
                case .added: newCount += 1
                }
            }
            let oldStart = oldCount == 0 ? oldLine[hunk.lowerBound] - 1 : oldLine[hunk.lowerBound]
            let newStart = newCount == 0 ? newLine[hunk.lowerBound] - 1 : newLine[hunk.lowerBound]
            out += style.cyan("@@ -\(oldStart),\(oldCount) +\(newStart),\(newCount) @@") + "\n"
            for step in steps[hunk] {
                switch step {
                case .same(let line): out += Self.print(" ", line, style: nil, terminal: style)
                case .removed(let line): out += Self.print("-", line, style: .red, terminal: style)
                case .added(let line): out += Self.print("+", line, style: .green, terminal: style)
                }
            }
        }
        return out
    }

    private static func print(_ marker: String, _ line: String, style: TerminalStyle.Color?, terminal: TerminalStyle) -> String {
        let hasNewline = line.hasSuffix("\n")
        let body = marker + (hasNewline ? String(line.dropLast()) : line)
        var out = (style.map { terminal.color($0, body) } ?? body) + "\n"
        if !hasNewline { out += "\\ No newline at end of file\n" }
        return out
    }
}
