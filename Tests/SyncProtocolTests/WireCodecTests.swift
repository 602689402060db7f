import Testing
@testable import SyncProtocol

@Suite struct WireCodecTests {
    let key = SiteKey()

    func entry() throws -> LogEntry {
        try LogEntry(signer: key, sequence: 2, article: ArticlePath("thời sự/bài 1.txt"), operation: .put,
                     contentHash: .of([1, 2, 3]), size: 3, replaces: [VersionID(.sha256(of: [9]))],
                     time: HybridTimestamp(milliseconds: 1_800_000_000_000, counter: 7), previous: VersionID(.sha256(of: [8])))
    }

    func messages() throws -> [WireMessage] {
        [
            .hello(Hello(siteID: key.siteID, siteName: "Hà Nội")),
            .vector(VersionVector([key.siteID: 42, SiteKey().siteID: 7])),
            .site(publicKeyDER: key.publicKey.der),
            .blobPart(BlobPart(hash: .of([1]), size: 1, encoding: 0, storedSize: 10, offset: 4, bytes: [1, 2, 3])),
            .entry(try entry()),
            .entry(try LogEntry(signer: key, sequence: 1, article: ArticlePath("x.txt"), operation: .delete, contentHash: nil,
                                size: 0, replaces: [], time: HybridTimestamp(rawValue: 1), previous: nil)),
            .caughtUp, .ping(9), .pong(9),
            .status(PeerReport(articles: 100_000, logEntries: 123_456, peersConnected: 2, peersConfigured: 3)),
            .error(WireError(.chainBroken, "gap")), .goodbye("shutting down"),
            .blobDelta(BlobDelta(hash: .of([1, 2]), size: 2, base: .of([1]), bytes: [0x28, 0xb5, 0x2f, 0xfd, 9])),
            .chainTips(ChainTips(tips: [
                ChainTip(origin: key.siteID, checkpoints: [.init(sequence: 42, version: VersionID(.sha256(of: [4]))),
                                                           .init(sequence: 41, version: VersionID(.sha256(of: [5])))],
                         besideCount: 3, besideDigest: .sha256(of: [6])),
                ChainTip(origin: SiteKey().siteID, checkpoints: []),
            ], last: false)),
            .chainTips(ChainTips(tips: [], last: true)),
            .author(try EntryAuthor(signer: key, version: try entry().version, name: "Nguyễn Thị Lan")!),
        ]
    }

    @Test func everyMessageRoundTrips() throws {
        for message in try messages() {
            let decoded = try WireCodec.decode(WireCodec.encode(message))
            #expect(decoded == message)
            // Entries are equal by version: every field must come back too.
            if case .entry(let sent) = message, case .entry(let got) = decoded {
                #expect(got.computedVersion == sent.version && got.signature == sent.signature)
            }
        }
    }

    /// Who made an entry is signed by its origin: no other key, no other name, no other version
    /// passes; names are cut to the limit at a character, control characters made spaces.
    @Test func anAuthorIsSignedByTheEntrysOriginAndCannotBeAltered() throws {
        let made = try LogEntry(signer: key, sequence: 1, article: ArticlePath("a.txt"), operation: .delete, contentHash: nil, size: 0,
                                replaces: [], time: HybridTimestamp(rawValue: 1), previous: nil, author: "lan")
        let author = try #require(made.author)
        #expect(author.name == "lan" && author.isValid(for: made, originKey: key.publicKey))
        #expect(!author.isValid(for: made, originKey: SiteKey().publicKey))
        let renamed = EntryAuthor(version: author.version, name: "thu", signature: author.signature)
        #expect(!renamed.isValid(for: made, originKey: key.publicKey))
        let other = try entry()
        let moved = EntryAuthor(version: other.version, name: "lan", signature: author.signature)
        #expect(!moved.isValid(for: other, originKey: key.publicKey))
        let forged = try #require(try EntryAuthor(signer: SiteKey(), version: made.version, name: "lan"))
        #expect(!forged.isValid(for: made, originKey: key.publicKey))
        // The same fields without an author are the same entry.
        let bare = LogEntry(origin: made.origin, sequence: 1, article: made.article, operation: .delete, contentHash: nil, size: 0,
                            replaces: [], time: made.time, previous: nil, version: made.version, signature: made.signature)
        #expect(bare == made && bare.author == nil)
        let long = try #require(try EntryAuthor(signer: key, version: made.version, name: String(repeating: "ệ", count: 60) + "\u{7}"))
        #expect(long.name.utf8.count <= EntryAuthor.maximumNameBytes && long.name.allSatisfy { $0 == "ệ" })
        #expect(long.isValid(for: made, originKey: key.publicKey))
        #expect(EntryAuthor.clean("a\tb\u{0}c") == "a b c")
        // Bidi overrides and zero-width characters go; a name of nothing but those is no name.
        #expect(EntryAuthor.clean("\u{202E}nal\u{200B}") == "nal" && EntryAuthor.clean(" thu\u{2028}hà ") == "thu hà")
        // What an origin signs is valid as it is: cleaning twice changes nothing, whatever the name.
        var random = SystemRandomNumberGenerator()
        let alphabet: [Unicode.Scalar] = ["a", "ệ", " ", "\u{7}", "\u{85}", "\u{202E}", "\u{200D}", "\u{301}", "\u{2029}", "Đ", "\t", "\u{FEFF}", "👩", "\u{1F3FD}"]
        for _ in 0..<500 {
            var name = ""
            for _ in 0..<Int.random(in: 0...80, using: &random) { name.unicodeScalars.append(alphabet.randomElement(using: &random)!) }
            let once = EntryAuthor.clean(name)
            #expect(EntryAuthor.clean(once) == once && once.utf8.count <= EntryAuthor.maximumNameBytes, "\(name.unicodeScalars.map { $0.value })")
        }
        #expect(try EntryAuthor(signer: key, version: made.version, name: "\u{202E}\u{7} ") == nil)

        // A name longer than any origin signs decodes (up to the wire's limit) and is not valid;
        // past the wire's limit the frame is malformed.
        let overLong = String(repeating: "ư", count: EntryAuthor.maximumNameBytes)
        let signedLong = EntryAuthor(version: made.version, name: overLong,
                                     signature: try key.sign(message: EntryAuthor.message(version: made.version, name: overLong)))
        #expect(try WireCodec.decode(WireCodec.encode(.author(signedLong))) == .author(signedLong))
        #expect(!signedLong.isValid(for: made, originKey: key.publicKey))
        let huge = EntryAuthor(version: made.version, name: String(repeating: "x", count: EntryAuthor.maximumWireNameBytes + 1), signature: [1])
        #expect(throws: WireError.self) { try WireCodec.decode(WireCodec.encode(.author(huge))) }
        #expect(EntryAuthor.display("web:thu") == "thu (web)" && EntryAuthor.display("lan") == "lan")
    }

    @Test func everyTruncationIsAMalformedFrameNotACrash() throws {
        for message in try messages() {
            let bytes = WireCodec.encode(message)
            for cut in 0..<bytes.count {
                #expect(throws: WireError.self) { try WireCodec.decode(Array(bytes.prefix(cut))) }
            }
        }
    }

    @Test func trailingBytesAreRefused() throws {
        #expect(throws: WireError.self) { try WireCodec.decode(WireCodec.encode(.ping(1)) + [0]) }
    }

    @Test func unknownTypeIsRefused() {
        #expect(throws: WireError(.malformedFrame, "unknown message type 200")) { try WireCodec.decode([200]) }
    }

    @Test func badLengthsInsideAMessageAreRefused() throws {
        var bytes = WireCodec.encode(.site(publicKeyDER: [1, 2, 3]))
        bytes[1...4] = [0xff, 0xff, 0xff, 0xff][...]
        #expect(throws: WireError.self) { try WireCodec.decode(bytes) }
        var vector = WireCodec.encode(.vector(VersionVector()))
        vector[1...4] = [0x7f, 0xff, 0xff, 0xff][...]
        #expect(throws: WireError.self) { try WireCodec.decode(vector) }
    }

    @Test func blobPartRunningPastItsTotalIsRefused() {
        let part = BlobPart(hash: .of([1]), size: 1, encoding: 0, storedSize: 2, offset: 1, bytes: [1, 2])
        #expect(throws: WireError.self) { try WireCodec.decode(WireCodec.encode(.blobPart(part))) }
    }

    @Test func entryWithAPathThatClimbsOutIsRefused() throws {
        let good = WireCodec.encode(.entry(try entry()))
        let path = Array("thời sự/bài 1.txt".utf8)
        let evil = Array("../../etc/passwdxxxxx".utf8.prefix(path.count))
        let index = try #require(good.firstRange(of: path))
        var bytes = good
        bytes.replaceSubrange(index, with: evil)
        #expect(throws: WireError.self) { try WireCodec.decode(bytes) }
    }

    /// Property: every mutation of a valid message (bit flips, bytes changed, cut, inserted,
    /// duplicated) either fails with a `WireError` or decodes to a message that encodes and decodes
    /// back to itself. A fixed seed and budget, so a failure repeats; libFuzzer explores further
    /// (`fuzz/`), and any input it finds crashing belongs in `fuzz/corpus/wire` and here.
    @Test func mutatedMessagesFailCleanlyOrRoundTrip() throws {
        var random = SeededGenerator(seed: 0x6e657773)
        let valid = try messages().map(WireCodec.encode)
        var decoded = 0
        for _ in 0..<60_000 {
            var bytes = valid[Int.random(in: 0..<valid.count, using: &random)]
            for _ in 0..<Int.random(in: 1...4, using: &random) {
                let at = bytes.isEmpty ? 0 : Int.random(in: 0..<bytes.count, using: &random)
                switch Int.random(in: 0..<5, using: &random) {
                case 0 where !bytes.isEmpty: bytes[at] ^= 1 << UInt8.random(in: 0..<8, using: &random)
                case 1 where !bytes.isEmpty: bytes[at] = [0, 0xff, 0x7f, 0x80, UInt8.random(in: 0...255, using: &random)][Int.random(in: 0..<5, using: &random)]
                case 2: bytes = Array(bytes.prefix(at))
                case 3: bytes.insert(UInt8.random(in: 0...255, using: &random), at: at)
                case 4: bytes += bytes.suffix(Int.random(in: 0...8, using: &random))
                default: break
                }
            }
            do {
                let message = try WireCodec.decode(bytes)
                decoded += 1
                #expect(try WireCodec.decode(WireCodec.encode(message)) == message)
            } catch {
                // A WireError: the typed throw allows nothing else.
            }
        }
        #expect(decoded > 0, "some mutations (a flipped bit in a name or a number) still decode")
    }

    @Test func randomBytesNeverCrashTheDecoder() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<5_000 {
            let count = Int.random(in: 0..<64, using: &generator)
            let bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
            _ = try? WireCodec.decode(bytes)
        }
    }
}

@Suite struct HandshakeTests {
    let a = SiteKey().siteID

    @Test func highestCommonVersionIsAgreed() {
        let local = Hello(minimumVersion: 1, maximumVersion: 3, siteID: a, siteName: "a")
        let remote = Hello(minimumVersion: 2, maximumVersion: 5, siteID: a, siteName: "b")
        #expect(Hello.negotiate(local: local, remote: remote) == .success(3))
    }

    @Test func noCommonVersionNamesBothRanges() {
        let local = Hello(minimumVersion: 1, maximumVersion: 2, siteID: a, siteName: "a")
        let remote = Hello(minimumVersion: 3, maximumVersion: 3, siteID: a, siteName: "b")
        guard case .failure(let error) = Hello.negotiate(local: local, remote: remote) else { Issue.record("agreed"); return }
        #expect(error.code == .versionMismatch)
        #expect(error.message.contains("v3-v3") && error.message.contains("v1-v2"))
    }
}

@Suite struct SessionStateMachineTests {
    let us = SiteKey().siteID, them = SiteKey().siteID

    var machine: SessionStateMachine { SessionStateMachine(local: Hello(siteID: us, siteName: "us"), authenticatedPeer: them) }

    @Test func helloThenVectorThenContent() {
        var m = machine
        #expect(m.start() == [.send(.hello(Hello(siteID: us, siteName: "us")))])
        #expect(m.receive(.hello(Hello(siteID: them, siteName: "them"))) == [.sendVector])
        // v4: the sender starts once the peer's chain tips are in, however many frames carry them.
        #expect(m.receive(.vector(VersionVector([them: 3]))) == [])
        #expect(m.phase == .awaitingChainTips)
        let tip = ChainTip(origin: them, checkpoints: [.init(sequence: 3, version: VersionID(bytes: [UInt8](repeating: 7, count: 32))!)])
        #expect(m.receive(.chainTips(ChainTips(tips: [], last: false))) == [])
        #expect(m.receive(.chainTips(ChainTips(tips: [tip], last: true))) == [.startSending(VersionVector([them: 3]), [tip])])
        #expect(m.receive(.caughtUp) == [.peerCaughtUp])
        #expect(m.receive(.ping(4)) == [.send(.pong(4))])
        #expect(m.receive(.site(publicKeyDER: [1])) == [.deliver(.site(publicKeyDER: [1]))])
        #expect(m.phase == .replicating)
    }

    /// `author` is protocol v5's: a peer that agreed an older version may not send it.
    @Test func anAuthorNeedsProtocolV5() throws {
        let entry = try LogEntry(signer: SiteKey(), sequence: 1, article: ArticlePath("a"), operation: .delete, contentHash: nil, size: 0,
                                 replaces: [], time: .init(rawValue: 1), previous: nil)
        let author = EntryAuthor(version: entry.version, name: "lan", signature: [1])
        for (peerMaximum, allowed) in [(UInt16(4), false), (WireCodec.authorVersion, true)] {
            var m = machine
            _ = m.start()
            #expect(m.receive(.hello(Hello(minimumVersion: 1, maximumVersion: peerMaximum, siteID: them, siteName: "them"))) == [.sendVector])
            _ = m.receive(.vector(VersionVector()))
            _ = m.receive(.chainTips(ChainTips(tips: [], last: true)))
            let actions = m.receive(.author(author))
            #expect((actions == [.deliver(.author(author))]) == allowed, "v\(peerMaximum): \(actions)")
        }
    }

    @Test func contentBeforeTheHandshakeIsRefused() {
        var m = machine
        let actions = m.receive(.entry(try! LogEntry(signer: SiteKey(), sequence: 1, article: ArticlePath("a"), operation: .delete,
                                                     contentHash: nil, size: 0, replaces: [], time: .init(rawValue: 1), previous: nil)))
        #expect(actions.count == 2)
        guard case .close(let error?) = actions.last else { Issue.record("not closed"); return }
        #expect(error.code == .unexpectedMessage)
        #expect(m.phase == .closed)
    }

    @Test func helloFromAnotherSiteThanTheCertificateIsRefused() {
        var m = machine
        let actions = m.receive(.hello(Hello(siteID: SiteKey().siteID, siteName: "liar")))
        guard case .close(let error?) = actions.last else { Issue.record("not closed"); return }
        #expect(error.code == .notAllowed)
    }

    @Test func tooNewPeerGetsAVersionError() {
        var m = machine
        let actions = m.receive(.hello(Hello(minimumVersion: 9, maximumVersion: 9, siteID: them, siteName: "future")))
        guard case .send(.error(let error)) = actions.first else { Issue.record("no error sent"); return }
        #expect(error.code == .versionMismatch)
    }

    @Test func peerErrorClosesWithoutReply() {
        var m = machine
        #expect(m.receive(.error(WireError(.timeout, "x"))) == [.close(WireError(.timeout, "x"))])
        #expect(m.receive(.ping(1)) == [])
    }
}

@Suite struct VersionVectorTests {
    @Test func aheadListsFirstMissingSequencePerOrigin() {
        let a = SiteKey().siteID, b = SiteKey().siteID, c = SiteKey().siteID
        let mine = VersionVector([a: 5, b: 2])
        let theirs = VersionVector([a: 3, b: 2, c: 9])
        #expect(mine.ahead(of: theirs) == [a: 4])
        #expect(theirs.ahead(of: mine) == [c: 1])
        #expect(mine.count(aheadOf: theirs) == 2)
        #expect(theirs.count(aheadOf: mine) == 9)
    }

    @Test func countsSaturateOnAPeersHugeNumbers() {
        let a = SiteKey().siteID, b = SiteKey().siteID, c = SiteKey().siteID
        let huge = VersionVector([a, b, c].reduce(into: [:]) { $0[$1] = UInt64(1) << 63 })
        #expect(huge.count(aheadOf: VersionVector()) == .max)
        #expect(huge.total == .max)
        #expect(VersionVector().count(aheadOf: huge) == 0)
    }
}

/// SplitMix64: a generator with a seed, so a property test that fails fails the same way again.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e3779b97f4a7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58476d1ce4e5b9
        z = (z ^ (z >> 27)) &* 0x94d049bb133111eb
        return z ^ (z >> 31)
    }
}

@Suite struct ChainTipTests {
    let origin = SiteKey().siteID

    /// A chain of `length` versions whose entries from `forkAt` on are another chain's (`branch`).
    func chain(_ length: UInt64, forkAt: UInt64 = .max, branch: UInt8 = 0) -> [UInt64: VersionID] {
        var versions: [UInt64: VersionID] = [:]
        for place in stride(from: 1, through: length, by: 1) where length > 0 {
            versions[place] = VersionID(.sha256(of: Array("\(place)".utf8) + [place >= forkAt ? branch : 0]))
        }
        return versions
    }

    func tip(_ versions: [UInt64: VersionID], beside: [VersionID] = []) -> ChainTip? {
        let top = versions.keys.max() ?? 0
        guard top > 0 else { return nil }
        return ChainTip(origin: origin, checkpoints: ChainTip.places(below: top).map { .init(sequence: $0, version: versions[$0]!) },
                        besideCount: UInt32(beside.count), besideDigest: beside.isEmpty ? ChainTip.noDigest : ChainTip.digest(of: beside))
    }

    @Test func placesRunFromTheTipDownToOne() {
        #expect(ChainTip.places(below: 0) == [])
        #expect(ChainTip.places(below: 1) == [1])
        #expect(ChainTip.places(below: 12) == [12, 11, 9, 5, 1])
        #expect(ChainTip.places(below: UInt64.max).count <= ChainTip.maximumCheckpoints)
        #expect(ChainTip.places(below: 1 << 40).last == 1)
    }

    @Test func theSameChainAndNothingBesideNeedsNoWindow() {
        let mine = chain(100), theirs = chain(60)
        #expect(tip(theirs)!.window(mine: tip(mine), versionAt: { mine[$0] }) == nil)
        // The peer ahead: this side cannot check, and need not (its backlog is all the peer lacks).
        #expect(tip(mine)!.window(mine: tip(theirs), versionAt: { theirs[$0] }) == nil)
    }

    /// Two chains of one origin that part at a random place, of random lengths: the side holding
    /// at least the other's tip always finds the fork, and the place it sends from is below it.
    @Test func aForkIsFoundBelowItsPlaceFromTheLongerSide() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2_000 {
            let forkAt = UInt64.random(in: 1...300, using: &generator)
            let mineLength = forkAt + UInt64.random(in: 0...300, using: &generator)
            let theirLength = forkAt + UInt64.random(in: 0...300, using: &generator)
            let mine = chain(mineLength, forkAt: forkAt, branch: 1), theirs = chain(theirLength, forkAt: forkAt, branch: 2)
            guard let theirTip = tip(theirs) else { continue }
            let window = theirTip.window(mine: tip(mine), versionAt: { mine[$0] })
            if mineLength >= theirLength {
                #expect(window != nil, "fork at \(forkAt), mine \(mineLength), theirs \(theirLength)")
            }
            if let window {
                #expect(window < forkAt, "sends from past \(window) for a fork at \(forkAt)")
                // Everything at or below the window agrees: nothing of the fork is skipped.
                for place in stride(from: 1, through: window, by: 1) where window > 0 { #expect(mine[place] == theirs[place]) }
            }
        }
    }

    @Test func differentEntriesBesideTheSameChainNeedAWindowFromTheTip() {
        let mine = chain(20)
        let kept = [VersionID(.sha256(of: [1])), VersionID(.sha256(of: [2]))]
        #expect(tip(mine, beside: kept)!.window(mine: tip(mine), versionAt: { mine[$0] }) == 20)
        #expect(tip(mine, beside: kept)!.window(mine: tip(mine, beside: kept.reversed()), versionAt: { mine[$0] }) == nil)
    }

    /// After they met, each site numbers its own chain and keeps the other beside it: the regions
    /// are the same set, and nothing is sent again, whichever chain is longer.
    @Test func twoSitesHoldingBothChainsSendNothing() {
        let mine = chain(12, forkAt: 8, branch: 1), theirs = chain(10, forkAt: 8, branch: 2)
        let region = (8...12).map { mine[UInt64($0)]! } + (8...10).map { theirs[UInt64($0)]! }
        var myTip = tip(mine, beside: []), theirTip = tip(theirs, beside: [])
        myTip?.besideCount = 3; myTip?.besideDigest = ChainTip.digest(of: region)
        theirTip?.besideCount = 5; theirTip?.besideDigest = ChainTip.digest(of: region.reversed())
        #expect(theirTip!.window(mine: myTip, versionAt: { mine[$0] }) == nil)
        #expect(myTip!.window(mine: theirTip, versionAt: { theirs[$0] }) == nil)
        // One of them missing an entry of the region: the fork is exchanged again.
        theirTip?.besideDigest = ChainTip.digest(of: region.dropLast())
        #expect(theirTip!.window(mine: myTip, versionAt: { mine[$0] }) == 7)
    }

    @Test func tipsSplitIntoFramesThatEachFit() {
        let many = (0..<5_000).map { index in
            ChainTip(origin: SiteKey().siteID, checkpoints: ChainTip.places(below: 100_000).map {
                .init(sequence: $0, version: VersionID(.sha256(of: [UInt8(index & 0xff)])))
            })
        }
        let frames = ChainTips.frames(many)
        #expect(frames.count > 1 && frames.last!.last && frames.dropLast().allSatisfy { !$0.last })
        #expect(frames.flatMap(\.tips) == many)
        for frame in frames { #expect(WireCodec.encode(.chainTips(frame)).count < WireCodec.maximumFrameLength) }
        #expect(ChainTips.frames([]) == [ChainTips(tips: [], last: true)])
    }

    /// A site at the vector's limit of origins still fits its tips under what a receiver takes;
    /// a peer sending more is refused before it costs more.
    @Test func tipsAreBoundedInAllWhateverTheFrames() {
        let most = WireCodec.maximumVectorOrigins
        let perOrigin = ChainTip.checkpointsPerOrigin(origins: most)
        #expect(perOrigin >= 2 && most * (80 + perOrigin * 40) <= ChainTip.maximumTotalCost)
        #expect(ChainTip.checkpointsPerOrigin(origins: 1_000) == ChainTip.maximumCheckpoints)
        #expect(ChainTip.places(below: 1 << 40, limit: 2) == [1 << 40, 1])

        var machine = SessionStateMachine(local: Hello(siteID: SiteKey().siteID, siteName: "us"), authenticatedPeer: origin)
        _ = machine.receive(.hello(Hello(siteID: origin, siteName: "them")))
        _ = machine.receive(.vector(VersionVector()))
        let heavy = ChainTip(origin: origin, checkpoints: Array(repeating: .init(sequence: 1, version: VersionID(.sha256(of: [1]))), count: 64))
        var refused = false
        for _ in 0..<(ChainTip.maximumTotalCost / heavy.cost + 2) {
            if machine.receive(.chainTips(ChainTips(tips: [heavy], last: false))).contains(where: { if case .close = $0 { true } else { false } }) {
                refused = true
                break
            }
        }
        #expect(refused && machine.phase == .closed)
    }
}
