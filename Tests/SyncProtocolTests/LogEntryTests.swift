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
        clock.observe(HybridTimestamp(milliseconds: 5000, counter: 3))
        #expect(clock.tick(wallMillis: 1000) == HybridTimestamp(milliseconds: 5000, counter: 4))
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
}
