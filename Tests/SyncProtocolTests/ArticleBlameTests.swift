import Testing
@testable import SyncProtocol

/// Blame against a history whose truth is known: every line written at step k reads "k:n", so the
/// version that introduced each line of the newest text is in the line itself.
@Suite struct ArticleBlameTests {
    struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    @Test(arguments: 0..<200)
    func everyLineIsGivenToTheVersionThatWroteIt(seed: Int) throws {
        var random = Generator(state: UInt64(seed))
        // Oldest first: each version inserts, removes or rewrites a few lines of the one before.
        var history: [[String]] = [(0..<Int.random(in: 0...8, using: &random)).map { "0:\($0)" }]
        let steps = Int.random(in: 0...30, using: &random)
        for step in 1...max(1, steps) {
            var lines = history.last!
            var written = 0
            for _ in 0..<Int.random(in: 0...3, using: &random) {
                switch Int.random(in: 0..<3, using: &random) {
                case 0:
                    lines.insert("\(step):\(written)", at: Int.random(in: 0...lines.count, using: &random))
                    written += 1
                case 1 where !lines.isEmpty:
                    lines.remove(at: Int.random(in: 0..<lines.count, using: &random))
                default:
                    guard !lines.isEmpty else { continue }
                    lines[Int.random(in: 0..<lines.count, using: &random)] = "\(step):\(written)"
                    written += 1
                }
            }
            history.append(lines)
        }
        let newest = Array(history.reversed())
        var asked = 0
        let attribution = ArticleBlame.attribute(newest[0]) { index in
            asked = max(asked, index)
            return index < newest.count ? newest[index] : nil
        }
        let owners = attribution.owners
        #expect(!attribution.approximate)
        for (line, owner) in zip(newest[0], owners) {
            let wrote = Int(line.split(separator: ":")[0])!
            #expect(newest.count - 1 - owner == wrote, "line \(line) given to step \(newest.count - 1 - owner)")
        }
        // The walk stops once every line is given: never past the oldest line's version.
        let oldest = owners.max().map { $0 + 1 } ?? 1
        #expect(asked <= oldest)
    }

    /// A version with no text (a delete) ends the walk: what follows it was written anew.
    @Test func aDeleteEndsTheWalk() {
        let owners = ArticleBlame.attribute(["a", "b"]) { index in [[], ["a", "b"]][index - 1] }.owners
        #expect(owners == [0, 0])
    }

    /// Blank lines and repeated paragraphs match in order: the copy added is the newer version's,
    /// the copies that were there keep their versions.
    @Test func repeatedAndBlankLinesKeepTheirVersions() {
        let history: [[String]] = [
            ["Tin", "", "—", "", "Kết"],   // 1: a blank line added
            ["Tin", "", "—", "Kết"],       // 2: a "—" added
            ["Tin", "", "Kết"],            // 3: the first
        ]
        let newest = ["Tin", "", "—", "", "—", "", "Kết"]   // a second "—" and a blank added
        let owners = ArticleBlame.attribute(newest) { index in index <= history.count ? history[index - 1] : nil }.owners
        #expect(owners == [3, 3, 2, 1, 0, 0, 3])
    }

    /// A step that changes more lines than are matched one by one gives them all to the newer
    /// version and says so; the unchanged start and end are still traced back.
    @Test func aHugeChangeIsGivenToTheNewerVersionAndSaidToBe() {
        let changed = ArticleBlame.maximumChangedLines
        let old = ["đầu"] + (0..<changed).map { "cũ \($0)" } + ["cuối"]
        var new = ["đầu"] + (0..<changed).map { "mới \($0)" } + ["cuối"]
        // One old line survives in the middle: past the limit it is not looked for.
        new[changed / 2] = old[changed / 2]
        let attribution = ArticleBlame.attribute(new) { $0 == 1 ? old : nil }
        #expect(attribution.approximate)
        #expect(attribution.owners.first == 1 && attribution.owners.last == 1)
        #expect(attribution.owners.dropFirst().dropLast().allSatisfy { $0 == 0 })

        // Under the limit the surviving line is found.
        let exact = ArticleBlame.attribute(["đầu", "x", "b", "y", "cuối"]) { $0 == 1 ? ["đầu", "a", "b", "c", "cuối"] : nil }
        #expect(!exact.approximate)
        #expect(exact.owners == [1, 0, 1, 0, 1])
    }
}
