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
        let owners = ArticleBlame.attribute(newest[0]) { index in
            asked = max(asked, index)
            return index < newest.count ? newest[index] : nil
        }
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
        let owners = ArticleBlame.attribute(["a", "b"]) { index in [[], ["a", "b"]][index - 1] }
        #expect(owners == [0, 0])
    }
}
