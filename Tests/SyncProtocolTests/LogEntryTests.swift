import Foundation
import Testing
@testable import SyncProtocol

@Suite struct LogEntryTests {
    let key = SiteKey()

    func entry(_ sequence: UInt64 = 1, previous: VersionID? = nil, article: String = "thoi-su/bai-1.txt") throws -> LogEntry {
        try LogEntry(signer: key, sequence: sequence, article: ArticlePath(article), operation: .put,
                     contentHash: .of(Array("Xin chào".utf8)), size: 9, replaces: [],
                     time: HybridTimestamp(milliseconds: 1_700_000_000_000, counter: 0), previous: previous)
    }

    @Test func soundEntryPassesItsCheck() throws {
        try entry().check(originKey: key.publicKey)
    }

    @Test func changingAnyFieldBreaksTheHash() throws {
        let e = try entry()
        let forged = LogEntry(origin: e.origin, sequence: e.sequence, article: try ArticlePath("khac.txt"),
                              operation: e.operation, contentHash: e.contentHash, size: e.size, replaces: e.replaces,
                              time: e.time, previous: e.previous, version: e.version, signature: e.signature)
        #expect(throws: LogEntry.Problem.hashMismatch(e.version)) { try forged.check(originKey: key.publicKey) }
    }

    @Test func anotherSitesKeyDoesNotVerify() throws {
        let e = try entry()
        #expect(throws: LogEntry.Problem.badSignature(e.version)) { try e.check(originKey: SiteKey().publicKey) }
    }

    @Test func entryClaimingAnotherOriginFailsEvenWhenRehashed() throws {
        let mallory = SiteKey()
        let honest = try entry()
        // Mallory makes an entry under the honest origin's ID and hashes it correctly, but can only sign with her key.
        let fields = LogEntry(origin: honest.origin, sequence: 1, article: honest.article, operation: .put,
                              contentHash: honest.contentHash, size: honest.size, replaces: [], time: honest.time,
                              previous: nil, version: honest.version, signature: [])
        let forged = LogEntry(origin: honest.origin, sequence: 1, article: honest.article, operation: .put,
                              contentHash: honest.contentHash, size: honest.size, replaces: [], time: honest.time,
                              previous: nil, version: fields.computedVersion, signature: try mallory.sign(fields.computedVersion))
        #expect(throws: LogEntry.Problem.badSignature(forged.version)) { try forged.check(originKey: key.publicKey) }
    }

    @Test func previousIsCoveredByTheHash() throws {
        let first = try entry()
        let second = try entry(2, previous: first.version)
        let other = try entry(2, previous: try entry(article: "x.txt").version)
        #expect(second.version != other.version)
        #expect(throws: LogEntry.Problem.self) { try entry(2, previous: nil).check(originKey: key.publicKey) }
    }
}

@Suite struct SiteIDTests {
    @Test func siteIDIsFourGroupsOfSixAndParsesBack() throws {
        let id = SiteKey().siteID
        let groups = id.rawValue.split(separator: "-")
        #expect(groups.count == 4 && groups.allSatisfy { $0.count == 6 })
        #expect(SiteID(id.rawValue) == id)
        #expect(SiteID(id.rawValue.lowercased().replacingOccurrences(of: "-", with: "")) == id)
    }

    @Test func siteIDDependsOnTheKeyOnly() throws {
        let key = SiteKey()
        let reloaded = try SiteKey(pem: key.pem)
        #expect(reloaded.siteID == key.siteID)
        #expect(SiteKey().siteID != key.siteID)
    }

    @Test func garbageIsNotASiteID() {
        #expect(SiteID("hello") == nil)
        #expect(SiteID("AAAAAA-AAAAAA-AAAAAA-AAAAA1") == nil)
        #expect(throws: SiteIDError.self) { try SiteID.parse("") }
    }

    @Test func checkCharactersAreSyncthingsLuhnMod32() {
        // Syncthing's documented device ID MFZWI3D-BONSGYC-YLTMRWG-C43ENR5-...: each 14-character
        // block is 13 characters and their check character.
        #expect(SiteID.checkCharacter("MFZWI3DBONSGY".utf8) == UInt8(ascii: "C"))
        #expect(SiteID.checkCharacter("YLTMRWGC43ENR".utf8) == UInt8(ascii: "5"))
        #expect(SiteID.checkCharacter("QXGZDMMFZWI3D".utf8) == UInt8(ascii: "P"))
        #expect(SiteID.checkCharacter("BONSGYYLTMRWA".utf8) == UInt8(ascii: "D"))
    }

    /// Random IDs: the printed form reads back in every spelling people use, and every
    /// single-character typo in it is refused with the group it is in.
    @Test func everySingleCharacterTypoIsCaughtInItsGroup() throws {
        var state: UInt64 = 0x5EED
        for _ in 0..<200 {
            let der = (0..<64).map { _ -> UInt8 in
                state = state &* 6364136223846793005 &+ 1442695040888963407
                return UInt8(truncatingIfNeeded: state >> 56)
            }
            let id = SiteID(publicKeyDER: der)
            let printed = id.printed
            #expect(printed.split(separator: "-").map(\.count) == [7, 7, 7, 7])
            #expect("\(id)" == printed)
            for spelling in [printed, printed.lowercased(), printed.replacingOccurrences(of: "-", with: ""), "  \(printed)\n", id.rawValue] {
                #expect(try SiteID.parse(spelling) == id, "\(spelling)")
            }
            var chars = Array(printed.utf8)
            let position = Int(state >> 40) % chars.count
            guard chars[position] != UInt8(ascii: "-") else { continue }
            let original = chars[position]
            for replacement in SiteID.alphabet where replacement != original {
                chars[position] = replacement
                let typo = String(decoding: chars, as: UTF8.self)
                #expect(throws: SiteIDError(text: typo, reason: .check(group: position / 8 + 1, typed: String(typo.split(separator: "-")[position / 8])))) {
                    try SiteID.parse(typo)
                }
            }
        }
    }

    @Test func typosReadAsTypos() {
        let id = SiteKey().siteID
        let printed = id.printed
        let short = String(printed.dropLast())
        #expect(throws: SiteIDError(text: short, reason: .length(27))) { try SiteID.parse(short) }
        let zero = "0" + printed.dropFirst()
        let error = #expect(throws: SiteIDError.self) { try SiteID.parse(zero) }
        #expect(error?.description.contains("did you mean O?") == true)
    }
}

@Suite struct ArticlePathTests {
    @Test func decomposedVietnameseBecomesNFC() throws {
        let nfd = "Tin tức/Đà Nẵng.txt".decomposedStringWithCanonicalMapping
        #expect(nfd.utf8.count != "Tin tức/Đà Nẵng.txt".utf8.count)
        #expect(try ArticlePath(nfd).rawValue == "Tin tức/Đà Nẵng.txt")
        #expect(try ArticlePath(nfd) == ArticlePath("Tin tức/Đà Nẵng.txt"))
    }

    @Test(arguments: ["", "/etc/passwd", "../x", "a/../b", "a//b", "./a", "a/", "a\u{0}b"])
    func pathsThatCouldEscapeOrAreMalformedAreRefused(_ text: String) {
        #expect(throws: ArticlePath.Invalid.self) { try ArticlePath(text) }
    }

    @Test func spacesAndNewlinesInNamesAreFine() throws {
        #expect(try ArticlePath("bài viết\nmới.txt").name == "bài viết\nmới.txt")
    }
}

@Suite struct HybridLogicalClockTests {
    @Test func ticksFollowWallTimeAndNeverGoBack() {
        var clock = HybridLogicalClock()
        let a = clock.tick(wallMillis: 1000)
        let b = clock.tick(wallMillis: 1000)
        let c = clock.tick(wallMillis: 900)
        let d = clock.tick(wallMillis: 2000)
        #expect(a < b && b < c && c < d)
        #expect(a.milliseconds == 1000 && b.counter == 1 && c.milliseconds == 1000 && d == HybridTimestamp(milliseconds: 2000, counter: 0))
    }

    @Test func observedRemoteTimeOrdersLaterLocalTicksAfterIt() {
        var clock = HybridLogicalClock()
        let observed1 = clock.observe(HybridTimestamp(milliseconds: 5000, counter: 3), wallMillis: 1000, maximumSkewMillis: 10_000)
        #expect(observed1)
        #expect(clock.tick(wallMillis: 1000) == HybridTimestamp(milliseconds: 5000, counter: 4))
    }

    @Test func aTimeFurtherAheadThanTheSkewIsNotObserved() {
        var clock = HybridLogicalClock()
        let wall: UInt64 = 1_700_000_000_000
        // A site whose clock says 2200: stored elsewhere, but never drags this clock forward.
        let observed2 = clock.observe(HybridTimestamp(milliseconds: 7_258_118_400_000, counter: 0), wallMillis: wall, maximumSkewMillis: 600_000)
        #expect(!observed2)
        #expect(clock.tick(wallMillis: wall) == HybridTimestamp(milliseconds: wall, counter: 0))
        let observed3 = clock.observe(HybridTimestamp(milliseconds: wall + 600_000, counter: 0), wallMillis: wall, maximumSkewMillis: 600_000)
        #expect(observed3)
        let observed4 = clock.observe(HybridTimestamp(milliseconds: wall + 600_001, counter: 0), wallMillis: wall, maximumSkewMillis: 600_000)
        #expect(!observed4)
        // No overflow at the top of the range.
        let observed5 = clock.observe(.maximum, wallMillis: .max, maximumSkewMillis: .max)
        #expect(observed5)
    }

    @Test func timestampsSaturateInsteadOfWrapping() {
        var clock = HybridLogicalClock(last: HybridTimestamp(milliseconds: HybridTimestamp.maximumMilliseconds, counter: .max - 1))
        let a = clock.tick(wallMillis: 0)
        let b = clock.tick(wallMillis: 0)
        let c = clock.tick(wallMillis: .max)
        #expect(a == .maximum && b == .maximum && c == .maximum)
        #expect(HybridTimestamp(milliseconds: .max, counter: 0).milliseconds == HybridTimestamp.maximumMilliseconds)
        var near = HybridLogicalClock(last: HybridTimestamp(milliseconds: 5, counter: .max))
        #expect(near.tick(wallMillis: 0) == HybridTimestamp(milliseconds: 6, counter: 0))
    }
}

@Suite struct VersionSpecTests {
    @Test func splitsArticleReferences() {
        #expect(VersionSpec.split("a.txt@abcdef12") == ("a.txt", .prefix("abcdef12")))
        #expect(VersionSpec.split("a.txt~2") == ("a.txt", .back(2)))
        #expect(VersionSpec.split("a.txt") == ("a.txt", .head))
        #expect(VersionSpec.split("user@example.txt") == ("user@example.txt", .head))
        #expect(VersionSpec.split("a.txt@abc") == ("a.txt@abc", .head))
    }

    @Test func bareArguments() {
        #expect(VersionSpec(argument: "~0") == .back(0))
        #expect(VersionSpec(argument: "HEAD") == .head)
        #expect(VersionSpec(argument: "ABCDEF") == .prefix("abcdef"))
        #expect(VersionSpec(argument: "abcde") == nil)
        #expect(VersionSpec(argument: "xyzxyz") == nil)
    }
}

@Suite struct ConflictRuleTests {
    @Test func laterTimeWinsThenGreaterSite() throws {
        let a = SiteKey(), b = SiteKey()
        func make(_ key: SiteKey, _ ms: UInt64) throws -> LogEntry {
            try LogEntry(signer: key, sequence: 1, article: ArticlePath("x.txt"), operation: .put, contentHash: .of([1]),
                         size: 1, replaces: [], time: HybridTimestamp(milliseconds: ms, counter: 0), previous: nil)
        }
        let early = try make(a, 1), late = try make(b, 2)
        #expect(ConflictRule.winner(of: [early, late]) == late)
        #expect(ConflictRule.winner(of: [late, early]) == late)
        let tieA = try make(a, 5), tieB = try make(b, 5)
        let expected = a.siteID > b.siteID ? tieA : tieB
        #expect(ConflictRule.winner(of: [tieA, tieB]) == expected)
        #expect(ConflictRule.winner(of: [tieB, tieA]) == expected)
    }

    @Test func aPutBeatsAConcurrentDeleteWhateverTheTimes() throws {
        let a = SiteKey(), b = SiteKey()
        let put = try LogEntry(signer: a, sequence: 1, article: ArticlePath("x.txt"), operation: .put, contentHash: .of([1]),
                               size: 1, replaces: [], time: HybridTimestamp(milliseconds: 1, counter: 0), previous: nil)
        let delete = try LogEntry(signer: b, sequence: 1, article: ArticlePath("x.txt"), operation: .delete, contentHash: nil,
                                  size: 0, replaces: [], time: HybridTimestamp(milliseconds: 9, counter: 0), previous: nil)
        #expect(ConflictRule.winner(of: [put, delete]) == put)
        #expect(ConflictRule.winner(of: [delete, put]) == put)
        let later = try LogEntry(signer: a, sequence: 2, article: ArticlePath("x.txt"), operation: .delete, contentHash: nil,
                                 size: 0, replaces: [], time: HybridTimestamp(milliseconds: 10, counter: 0), previous: nil)
        #expect(ConflictRule.winner(of: [delete, later]) == later)
    }

    /// Any order of the same heads gives the same winner (the rule is a total order).
    @Test func winnerIsTheSameForEveryOrderOfHeads() throws {
        var generator = SeededGenerator(seed: 7)
        let keys = [SiteKey(), SiteKey(), SiteKey()]
        for round in 0..<200 {
            var heads: [LogEntry] = []
            for index in 0..<Int.random(in: 2...5, using: &generator) {
                let isPut = Bool.random(using: &generator)
                heads.append(try LogEntry(
                    signer: keys[Int.random(in: 0..<3, using: &generator)], sequence: UInt64(index + 1), article: ArticlePath("x.txt"),
                    operation: isPut ? .put : .delete, contentHash: isPut ? .of([UInt8(index)]) : nil, size: isPut ? 1 : 0, replaces: [],
                    time: HybridTimestamp(milliseconds: UInt64.random(in: 0...3, using: &generator), counter: 0), previous: nil))
            }
            let winner = ConflictRule.winner(of: heads)
            for _ in 0..<6 {
                let shuffled = heads.shuffled(using: &generator)
                #expect(ConflictRule.winner(of: shuffled) == winner, "round \(round)")
            }
            if heads.contains(where: { $0.operation == .put }) { #expect(winner?.operation == .put) }
        }
    }
}
