import Glibc
import Testing
import TestSupport
@testable import NewsDaemon

/// Ignore patterns are matched as bytes where they are a literal or one `*`; the answer must be
/// `fnmatch`'s for every name, whichever way a pattern is matched.
@Suite struct IgnoreRulesTests {
    func reference(_ patterns: [String], _ name: String) -> Bool {
        patterns.contains { fnmatch($0, name, 0) == 0 }
    }

    @Test func matchingAgreesWithFnmatchOnRandomNames() {
        var random = SeededRandom(seed: 20261203)
        let pieces = ["a", "b", ".", "~", "#", "*", "swp", "tmp", ".~lock.", "newsd-", ".newsd-", "4913", "ư", "bài", "-", "?", "[", "]", "\\"]
        func piece() -> String { pieces[Int.random(in: 0..<pieces.count, using: &random)] }
        var disagreements: [String] = []
        for round in 0..<400 {
            // The defaults, and random patterns of every kind: literal, one star, two, and globs.
            var patterns = IgnoreRules.defaults
            for _ in 0..<Int.random(in: 0...4, using: &random) {
                patterns.append((0..<Int.random(in: 1...4, using: &random)).map { _ in piece() }.joined())
            }
            let rules = IgnoreRules(patterns: patterns)
            for _ in 0..<50 {
                let name = (0..<Int.random(in: 1...5, using: &random)).map { _ in piece() }.joined()
                let folder = round % 2 == 0 ? "" : "muc/\(piece())/"
                if rules.ignores(path: folder + name) != reference(patterns, name) {
                    disagreements.append("\(patterns.suffix(patterns.count - IgnoreRules.defaults.count)) \(folder)\(name)")
                }
            }
        }
        #expect(disagreements.isEmpty, "\(disagreements.prefix(10))")
    }

    @Test func theDefaultsIgnoreEditorsFilesAndNotArticles() {
        let rules = IgnoreRules()
        for name in [".bai.txt.swp", "bai.txt~", "4913", ".#bai.txt", "#bai.txt#", ".~lock.bai.odt#", ".newsd-1.tmp", ".DS_Store", "thoi-su/.goutputstream-AB12"] {
            #expect(rules.ignores(path: name), "\(name)")
        }
        for name in ["bai.txt", "thoi-su/bài-viết.txt", "4913.txt", "lock#", "#", "~bai.txt", "tmp"] {
            #expect(!rules.ignores(path: name), "\(name)")
        }
    }
}
