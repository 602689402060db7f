import Foundation
import Testing
@testable import NewsControl

@Suite struct UnifiedDiffTests {
    @Test func oneChangedLineGivesOneHunkWithContext() {
        let old = (1...10).map { "dòng \($0)\n" }.joined()
        let new = old.replacingOccurrences(of: "dòng 5\n", with: "dòng năm\n")
        let diff = UnifiedDiff(oldLabel: "a", newLabel: "b").render(old: old, new: new)
        #expect(diff == """
            --- a
            +++ b
            @@ -2,7 +2,7 @@
             dòng 2
             dòng 3
             dòng 4
            -dòng 5
            +dòng năm
             dòng 6
             dòng 7
             dòng 8

            """)
    }

    @Test func equalTextsGiveNoDiff() {
        #expect(UnifiedDiff(oldLabel: "a", newLabel: "b").render(old: "x\n", new: "x\n").isEmpty)
    }

    @Test func missingFinalNewlineIsShown() {
        let diff = UnifiedDiff(oldLabel: "a", newLabel: "b").render(old: "x", new: "x\n")
        #expect(diff.contains("-x\n\\ No newline at end of file\n+x\n"))
    }

    @Test func addingToAnEmptyFileStartsAtZero() {
        let diff = UnifiedDiff(oldLabel: "a", newLabel: "b").render(old: "", new: "mới\n")
        #expect(diff.contains("@@ -0,0 +1,1 @@"))
    }

    @Test func distantChangesGiveSeparateHunks() {
        let old = (1...30).map { "\($0)\n" }.joined()
        let new = old.replacingOccurrences(of: "\n2\n", with: "\nhai\n").replacingOccurrences(of: "\n28\n", with: "\nhai tám\n")
        let diff = UnifiedDiff(oldLabel: "a", newLabel: "b").render(old: old, new: new)
        #expect(diff.components(separatedBy: "@@ -").count - 1 == 2)
    }
}

@Suite struct WordDiffTests {
    @Test func changedWordIsMarkedAndDiacriticsStayWhole() {
        let diff = WordDiff.render(old: "Hôm nay trời mưa ở Hà Nội.\nĐoạn hai.\n", new: "Hôm nay trời nắng ở Hà Nội.\nĐoạn hai.\n")
        #expect(diff == "@@ paragraph 1 @@\nHôm nay trời [-mưa-]{+nắng+} ở Hà Nội.\n")
    }

    @Test func decomposedLettersAreNeverSplit() {
        let word = "Nẵng".decomposedStringWithCanonicalMapping
        let tokens = WordDiff.tokens("Đà \(word).")
        #expect(tokens == ["Đà", " ", word, "."])
    }

    @Test func toneMarkChangeReplacesTheWholeWord() {
        let diff = WordDiff.render(old: "ma\n", new: "mà\n")
        #expect(diff.contains("[-ma-]{+mà+}"))
    }
}

@Suite struct TimeArgumentTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func relativeSpansCountBackFromNow() {
        #expect(TimeArgument.milliseconds("2h", now: now) == 1_800_000_000_000 - 7_200_000)
        #expect(TimeArgument.milliseconds("now", now: now) == 1_800_000_000_000)
    }

    @Test func datesAreLocalUnlessAZoneIsGiven() {
        let hanoi = TimeZone(identifier: "Asia/Ho_Chi_Minh")!
        #expect(TimeArgument.milliseconds("2026-01-01", timeZone: hanoi) == 1_767_200_400_000)
        #expect(TimeArgument.milliseconds("2026-01-01T00:00:00Z", timeZone: hanoi) == 1_767_225_600_000)
        #expect(TimeArgument.milliseconds("yesterday") == nil)
    }

    @Test func socketIsFoundInOrder() {
        #expect(SocketLocator.path(control: "/c", data: "/d", environment: ["NEWSD_CONTROL": "/e"]) == "/c")
        #expect(SocketLocator.path(control: nil, data: "/d", environment: ["NEWSD_CONTROL": "/e"]) == "/d/newsd.sock")
        #expect(SocketLocator.path(control: nil, data: nil, environment: ["NEWSD_CONTROL": "/e"]) == "/e")
        let none: (String) -> String? = { _ in nil }
        // Nothing running anywhere: the service's socket, so the error names where the service would be.
        #expect(SocketLocator.path(control: nil, data: nil, environment: [:], exists: { _ in false }, owned: { _ in false }, readConfig: none) == "/run/newsd/newsd.sock")
        #expect(SocketLocator.path(control: nil, data: nil, environment: [:], exists: { $0 == ".newsd/newsd.sock" || $0 == "/run/newsd/newsd.sock" },
                                   owned: { $0 == ".newsd/newsd.sock" }, readConfig: none) == ".newsd/newsd.sock")
        // One planted in the working folder by someone else is passed over.
        #expect(SocketLocator.path(control: nil, data: nil, environment: [:], exists: { _ in true }, owned: { _ in false },
                                   readConfig: none) == "/run/newsd/newsd.sock")
        // The installed config's socket comes before the default place, and `data` names one too.
        let config: (String) -> String? = { $0 == "/etc/newsd/newsd.toml" ? "control = \"/srv/n.sock\"\nwatch = \"/srv/a\"" : nil }
        #expect(SocketLocator.path(control: nil, data: nil, environment: [:], exists: { $0 != ".newsd/newsd.sock" }, owned: { _ in false }, readConfig: config) == "/srv/n.sock")
        let dataOnly: (String) -> String? = { _ in "data = \"/var/lib/x\"" }
        #expect(SocketLocator.path(control: nil, data: nil, environment: [:], exists: { $0.hasPrefix("/var") }, owned: { _ in false }, readConfig: dataOnly) == "/var/lib/x/newsd.sock")
        // A config that does not parse is passed over.
        #expect(SocketLocator.path(control: nil, data: nil, environment: [:], exists: { $0.hasPrefix("/run") }, owned: { _ in false }, readConfig: { _ in "control = [" }) == "/run/newsd/newsd.sock")
    }
}
