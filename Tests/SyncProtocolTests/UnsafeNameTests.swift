import Testing
import SyncProtocol

/// Which names newsd neither records nor writes, checked against the rule spelled out plainly.
struct UnsafeNameTests {
    /// The rule as written: a control character anywhere, or a component `.newsd-…tmp`.
    func plainReason(_ path: String) -> String? {
        if path.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F || (0x80...0x9F).contains($0.value) }) {
            return "contains a control character"
        }
        if path.split(separator: "/").contains(where: { $0.hasPrefix(".newsd-") && $0.hasSuffix(".tmp") }) { return "is a newsd temp name" }
        return nil
    }

    @Test func theScanShortcutAgreesWithThePlainRuleOnRandomNames() throws {
        let pieces = [".newsd-", ".newsd", "newsd-", ".tmp", "tmp", ".", "..n", "/", "a", "ễ", "Hà Nội", "\u{7}", "\u{85}", "-", ".n.newsd-x"]
        var generator = SystemRandomNumberGenerator()
        var checked = 0
        for _ in 0..<20_000 {
            let name = (0..<Int.random(in: 1...6, using: &generator)).map { _ in pieces.randomElement(using: &generator)! }.joined()
            guard let path = try? ArticlePath(name) else { continue }
            #expect(path.unsafeReason == plainReason(path.rawValue), "\(path.escaped)")
            checked += 1
        }
        #expect(checked > 1_000)
        #expect(try ArticlePath("bai/.newsd-1a2b.tmp").unsafeReason == "is a newsd temp name")
        #expect(try ArticlePath("bai/..newsd-1a2b.tmp").unsafeReason == nil)
        #expect(try ArticlePath("x.newsd-.newsd-a.tmp").unsafeReason == nil)
        #expect(try ArticlePath(".newsd-a.tmp/b.txt").unsafeReason == "is a newsd temp name")
    }
}
