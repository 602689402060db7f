import Foundation
import Testing
import TestSupport
@testable import Store
import SyncProtocol

/// Entries from a peer: what is stored, what is refused, and that a refusal stores nothing of it.
@Suite struct RemoteAppendTests {
    let folder = TemporaryFolder("remote")
    let origin = SiteKey()

    /// Makes a chain of entries at `origin`, as that site would have logged them, with blobs.
    func chain(_ texts: [String], article: String = "a.txt") throws -> ([LogEntry], [ContentHash: StoredBlob]) {
        var entries: [LogEntry] = []
        var blobs: [ContentHash: StoredBlob] = [:]
        for (index, text) in texts.enumerated() {
            let bytes = Array(text.utf8)
            let hash = ContentHash.of(bytes)
            let (encoding, data) = BlobCodec.encode(bytes)
            blobs[hash] = StoredBlob(hash: hash, size: UInt64(bytes.count), encoding: encoding, data: data)
            entries.append(try LogEntry(signer: origin, sequence: UInt64(index + 1), article: ArticlePath(article), operation: .put,
                                        contentHash: hash, size: UInt64(bytes.count), replaces: entries.last.map { [$0.version] } ?? [],
                                        time: HybridTimestamp(milliseconds: UInt64(1000 + index), counter: 0), previous: entries.last?.version))
        }
        return (entries, blobs)
    }

    var keys: [SiteID: SiteKey.Public] { [origin.siteID: origin.publicKey] }

    @Test func aSoundChainIsStoredOnceAndRedeliveryDuplicatesNothing() throws {
        let log = try ArticleLog(path: folder.sub("log.sqlite"))
        let (entries, blobs) = try chain(["một", "hai", "ba"])
        let first = try log.appendRemote(entries, blobs: blobs, keys: keys, wallMillis: 1)
        #expect(first.stored.count == 3 && first.rejection == nil)
        let again = try log.appendRemote(entries, blobs: blobs, keys: keys, wallMillis: 2)
        #expect(again.stored.isEmpty && again.duplicates == 3 && again.rejection == nil)
        #expect(log.stats.entries == 3)
        #expect(log.versionVector() == VersionVector([origin.siteID: 3]))
        #expect(try ArticleLog(path: folder.sub("log.sqlite")).versionVector() == log.versionVector())
        #expect(try log.verify().problems.isEmpty)
    }

    /// An origin this log has never held must start at #1. Past a known origin's tip, an entry
    /// whose previous one is not here may continue a chain passed over (a second chain's): it is
    /// passed over in turn, not refused, so the session goes on; nothing of it is stored, and it is
    /// taken once the entries before it are.
    @Test func aGapIsRefusedForANewOriginAndPassedOverForAKnownOne() throws {
        let log = try ArticleLog(path: folder.sub("log.sqlite"))
        let (entries, blobs) = try chain(["1", "2", "3"])
        let refused = try log.appendRemote([entries[1]], blobs: blobs, keys: keys, wallMillis: 1)
        #expect(refused.rejection?.code == .chainBroken && log.stats.entries == 0)
        let result = try log.appendRemote([entries[0], entries[2]], blobs: blobs, keys: keys, wallMillis: 1)
        #expect(result.stored == [entries[0]] && result.unlinked == [entries[2]] && result.rejection == nil)
        #expect(log.stats.entries == 1)
        #expect(try log.appendRemote(entries, blobs: blobs, keys: keys, wallMillis: 2).stored == Array(entries[1...]))
    }

    /// An entry of another origin that replaces a version passed over is passed over too (it
    /// would otherwise be refused, every session), and so are that origin's entries after it.
    @Test func entriesBuildingOnAPassedOverVersionArePassedOver() throws {
        let log = try ArticleLog(path: folder.sub("log.sqlite"))
        let (entries, blobs) = try chain(["1", "2", "3"])
        _ = try log.appendRemote(Array(entries[...1]), blobs: blobs, keys: keys, wallMillis: 1)
        let (other, otherBlobs) = try chain(["1", "khác 2", "khác 3"])
        let editor = SiteKey()
        let bytes = Array("sửa trên bản bị bỏ qua".utf8)
        let hash = ContentHash.of(bytes)
        let edit = try LogEntry(signer: editor, sequence: 1, article: ArticlePath("a.txt"), operation: .put, contentHash: hash,
                                size: UInt64(bytes.count), replaces: [other[2].version],
                                time: HybridTimestamp(milliseconds: 9000, counter: 0), previous: nil)
        var all = blobs.merging(otherBlobs) { a, _ in a }
        all[hash] = StoredBlob(hash: hash, size: UInt64(bytes.count), encoding: .raw, data: bytes)
        // The other chain's #3 without its #2: passed over; the edit built on it, too.
        let result = try log.appendRemote([other[2], edit], blobs: all, keys: keys.merging([editor.siteID: editor.publicKey]) { a, _ in a },
                                          wallMillis: 2)
        #expect(result.rejection == nil && result.stored.isEmpty && result.unlinked == [other[2], edit])
        // In a later batch of the same session, the caller passes what was passed over.
        let later = try log.appendRemote([edit], blobs: all, keys: [editor.siteID: editor.publicKey], wallMillis: 3,
                                         passedOver: [other[2].version])
        #expect(later.rejection == nil && later.unlinked == [edit])
        #expect(try log.verify().problems.isEmpty)
    }

    @Test func anEntrySignedByAnotherKeyIsRefused() throws {
        let log = try ArticleLog(path: folder.sub("log.sqlite"))
        let (entries, blobs) = try chain(["1"])
        let mallory = SiteKey()
        let forged = LogEntry(origin: origin.siteID, sequence: 1, article: entries[0].article, operation: .put,
                              contentHash: entries[0].contentHash, size: entries[0].size, replaces: [], time: entries[0].time,
                              previous: nil, version: entries[0].version, signature: try mallory.sign(entries[0].version))
        let result = try log.appendRemote([forged], blobs: blobs, keys: keys, wallMillis: 1)
        #expect(result.rejection?.code == .badSignature)
        #expect(log.stats.entries == 0)
        // Sending the forger's own key under the victim's ID does not help: keys are looked up by their fingerprint.
        let result2 = try log.appendRemote([forged], blobs: blobs, keys: [mallory.siteID: mallory.publicKey], wallMillis: 1)
        #expect(result2.rejection?.code == .badSignature)
    }

    @Test func anEntryWithoutItsBlobIsRefused() throws {
        let log = try ArticleLog(path: folder.sub("log.sqlite"))
        let (entries, _) = try chain(["1"])
        let result = try log.appendRemote(entries, blobs: [:], keys: keys, wallMillis: 1)
        #expect(result.rejection?.code == .blobMismatch)
        #expect(log.stats.entries == 0 && log.stats.blobs == 0)
    }

    @Test func aBlobWhoseBytesDoNotMatchItsHashFailsVerification() throws {
        let (_, blobs) = try chain(["nội dung thật"])
        var blob = try #require(blobs.values.first)
        blob.data = BlobCodec.encode(Array("nội dung giả".utf8)).1
        blob.encoding = BlobCodec.encode(Array("nội dung giả".utf8)).0
        #expect(throws: WireError.self) { try blob.verified() }
    }

    /// Who made each entry: kept with its origin's signature, read back, verified; one signed by
    /// another key is dropped (the entry stored without it); an entry first relayed without one
    /// gets it when it comes again with it; authors cannot be changed once kept.
    @Test func authorsAreKeptOnlyWithTheOriginsSignature() throws {
        let path = folder.sub("log.sqlite")
        let log = try ArticleLog(path: path)
        let (entries, blobs) = try chain(["một", "hai", "ba"])
        func authored(_ entry: LogEntry, _ name: String, by signer: SiteKey) throws -> LogEntry {
            var copy = entry
            copy.author = try EntryAuthor(signer: signer, version: entry.version, name: name)
            return copy
        }
        let first = try authored(entries[0], "lan", by: origin)
        let forged = try authored(entries[1], "mallory", by: SiteKey())
        let bare = entries[2]
        let result = try log.appendRemote([first, forged, bare], blobs: blobs, keys: keys, wallMillis: 1)
        #expect(result.stored.count == 3 && result.rejection == nil && result.authorsDropped == 1)
        #expect(try log.entry(version: first.version)?.author == first.author)
        #expect(try log.entry(version: forged.version)?.author == nil)
        #expect(try log.entry(version: bare.version)?.author == nil)

        // Sent again with its author (a v5 peer after a v4 relay): the author is kept, nothing else changes.
        let later = try authored(bare, "thu", by: origin)
        let again = try log.appendRemote([later], blobs: blobs, keys: keys, wallMillis: 2)
        #expect(again.duplicates == 1 && log.stats.entries == 3)
        #expect(try log.entry(version: bare.version)?.author?.name == "thu")
        // A second, different author for the same entry does not replace the first.
        _ = try log.appendRemote([try authored(bare, "khác", by: origin)], blobs: blobs, keys: keys, wallMillis: 3)
        #expect(try log.entry(version: bare.version)?.author?.name == "thu")
        #expect(try log.verify().problems.isEmpty)
        #expect(throws: (any Error).self) { try log.db.execute("UPDATE authors SET name = 'x'") }
        #expect(throws: (any Error).self) { try log.db.execute("DELETE FROM authors") }

        // A local change carries its author, signed with the site's key.
        let site = SiteKey()
        var clock = HybridLogicalClock()
        let bytes = Array("Tin mới\n".utf8)
        let article = try ArticlePath("moi.txt")
        let state = FileState(path: "moi.txt", article: article, size: Int64(bytes.count), mtimeNanos: 1, ctimeNanos: 1,
                              inode: 1, contentHash: .of(bytes))
        let made = try log.recordLocal([LocalChange(article: article, kind: .put(bytes: bytes, hash: .of(bytes), file: state),
                                                    author: "web:thu")], signer: site, clock: &clock, wallMillis: 4)
        let mine = try #require(made.first)
        #expect(mine.author?.isValid(for: mine, originKey: site.publicKey) == true)
        #expect(try log.entry(version: mine.version)?.author?.name == "web:thu")
        #expect(try log.verify().problems.isEmpty)
    }

    /// A second chain of one origin (the site ran on an older copy of its log and signed again from
    /// where it ended): kept beside the first, its versions heads like any other, the vector and
    /// the chain untouched, listed, verified, and sent again only as a window.
    @Test func aSecondChainOfAnOriginIsKeptBesideTheFirst() throws {
        let path = folder.sub("log.sqlite")
        let log = try ArticleLog(path: path)
        let (entries, blobs) = try chain(["1", "2", "3"])
        _ = try log.appendRemote(entries, blobs: blobs, keys: keys, wallMillis: 1)
        let (other, otherBlobs) = try chain(["1", "khác 2", "khác 3", "khác 4"])
        #expect(other[0].version == entries[0].version, "the two chains share #1")

        // #2 and #3 of the other chain sit where the chain already holds entries; #4 continues
        // the other chain past the chain's tip.
        let result = try log.appendRemote(Array(other[1...]), blobs: otherBlobs, keys: keys, wallMillis: 2)
        #expect(result.rejection == nil)
        #expect(result.beside == Array(other[1...]) && result.stored == Array(other[1...]))
        #expect(log.versionVector() == VersionVector([origin.siteID: 3]), "the chain's numbering is the first chain's")
        #expect(log.stats.besideEntries == 3 && log.stats.entries == 6)
        #expect(try log.chainTip(of: origin.siteID)?.version == entries[2].version)
        // Both chains' newest versions of the article are heads: one conflict.
        #expect(Set(try log.heads(of: ArticlePath("a.txt")).map(\.version)) == [entries[2].version, other[3].version])
        #expect(try log.entry(version: other[2].version) == other[2], "an entry beside the chain reads back as signed")
        #expect(try log.verify().problems.isEmpty)

        // Sent again: duplicates, nothing stored twice.
        let again = try log.appendRemote(other, blobs: otherBlobs, keys: keys, wallMillis: 3)
        #expect(again.stored.isEmpty && again.duplicates == 4 && again.rejection == nil)

        // Listed; the tips say what is kept beside; the window holds the chain past a place and all beside it.
        let forks = try log.forks()
        #expect(forks.count == 1 && forks[0].origin == origin.siteID && forks[0].firstSequence == 2 && forks[0].besideEntries == 3)
        let tip = try #require(try log.chainTips().first)
        // The fork's region: both chains from #2, the lowest place beside the chain.
        #expect(tip.sequence == 3 && tip.besideCount == 3
                && tip.besideDigest == ChainTip.digest(of: (entries[1...] + other[1...]).map(\.version)))
        let window = try log.entries(at: try log.forkWindow(of: origin.siteID, after: 1).map(\.position)[...]).map(\.1.version)
        #expect(window == [entries[1], entries[2], other[1], other[2], other[3]].map(\.version))

        // Another site's entry may replace a version beside the chain.
        let editor = SiteKey()
        let bytes = Array("sửa bản khác".utf8)
        let hash = ContentHash.of(bytes)
        let edit = try LogEntry(signer: editor, sequence: 1, article: ArticlePath("a.txt"), operation: .put, contentHash: hash,
                                size: UInt64(bytes.count), replaces: [entries[2].version, other[3].version],
                                time: HybridTimestamp(milliseconds: 9000, counter: 0), previous: nil)
        let (encoding, data) = BlobCodec.encode(bytes)
        let merged = try log.appendRemote([edit], blobs: [hash: StoredBlob(hash: hash, size: UInt64(bytes.count), encoding: encoding, data: data)],
                                          keys: [editor.siteID: editor.publicKey], wallMillis: 4)
        #expect(merged.stored == [edit] && merged.beside.isEmpty)
        #expect(try log.heads(of: ArticlePath("a.txt")).map(\.version) == [edit.version])

        // Opened again: the same counts, the same vector, still verifies.
        let reopened = try ArticleLog(path: path)
        #expect(reopened.stats.besideEntries == 3 && reopened.versionVector() == log.versionVector())
        #expect(try reopened.verify().problems.isEmpty)
    }

    /// The content of an entry beside the chain is not taken as held by a peer whose number for
    /// that origin covers its place: that peer holds the other chain's entry there.
    @Test func contentBesideTheChainIsNeverTakenAsHeld() throws {
        let log = try ArticleLog(path: folder.sub("log.sqlite"))
        let (entries, blobs) = try chain(["1", "2"])
        _ = try log.appendRemote(entries, blobs: blobs, keys: keys, wallMillis: 1)
        let (other, otherBlobs) = try chain(["1", "chỉ ở chuỗi kia"])
        _ = try log.appendRemote([other[1]], blobs: otherBlobs, keys: keys, wallMillis: 2)
        let plan = try log.plan(contentOf: other[1], for: VersionVector([origin.siteID: 2]), deltas: false)
        guard case .whole? = plan else { Issue.record("planned \(String(describing: plan))"); return }
    }

    @Test func aSecondChainWhoseEarlierEntriesAreMissingIsPassedOverNotRefused() throws {
        let log = try ArticleLog(path: folder.sub("log.sqlite"))
        let (entries, blobs) = try chain(["1", "2", "3"])
        _ = try log.appendRemote(entries, blobs: blobs, keys: keys, wallMillis: 1)
        let (other, otherBlobs) = try chain(["1", "khác 2", "khác 3", "khác 4"])
        // #3 and #4 of the other chain without its #2: nothing links them to this log.
        let result = try log.appendRemote([other[2], other[3]], blobs: otherBlobs, keys: keys, wallMillis: 2)
        #expect(result.rejection == nil && result.stored.isEmpty && result.unlinked == [other[2], other[3]])
        #expect(log.stats.entries == 3 && log.stats.besideEntries == 0)
        // A number past the chain's next with nothing to link to is passed over as well.
        let (long, longBlobs) = try chain(["1", "2", "3", "4", "5"])
        #expect(try log.appendRemote([long[4]], blobs: longBlobs, keys: keys, wallMillis: 3).unlinked == [long[4]])
    }

    /// A revoked key signing a second chain at places the log held before the revocation gets
    /// nothing into the folder: kept (the log is append-only) but held aside, never a head.
    @Test func aSecondChainOfARevokedOriginIsHeldAside() throws {
        let log = try ArticleLog(path: folder.sub("log.sqlite"))
        let (entries, blobs) = try chain(["1", "2", "3"])
        _ = try log.appendRemote(entries, blobs: blobs, keys: keys, wallMillis: 1)
        try log.revoke([origin.siteID], wallMillis: 2)
        let (other, otherBlobs) = try chain(["1", "kẻ cắp khoá viết"])
        let result = try log.appendRemote([other[1]], blobs: otherBlobs, keys: keys, wallMillis: 3)
        #expect(result.beside == [other[1]] && result.revoked == 1)
        #expect(try log.heads(of: ArticlePath("a.txt")).map(\.version) == [entries[2].version])
        #expect(try log.verify().problems.isEmpty)
        // Trusted again: the second chain's entry becomes a version like any other.
        try log.revoke([], wallMillis: 4)
        #expect(Set(try log.heads(of: ArticlePath("a.txt")).map(\.version)) == [entries[2].version, other[1].version])
        #expect(try log.verify().problems.isEmpty)
    }

    @Test func entriesBesideAChainAreBounded() throws {
        let log = try ArticleLog(path: folder.sub("log.sqlite"))
        log.maximumBesidePerOrigin = 2
        let (entries, blobs) = try chain(["1", "2"])
        _ = try log.appendRemote(entries, blobs: blobs, keys: keys, wallMillis: 1)
        let (other, otherBlobs) = try chain(["1", "b", "c", "d"])
        let result = try log.appendRemote(Array(other[1...]), blobs: otherBlobs, keys: keys, wallMillis: 2)
        #expect(result.beside.count == 2 && result.overLimit == [other[3]] && result.rejection == nil, "passed over, not refused")
        #expect(log.stats.besideEntries == 2)
        #expect(try log.verify().problems.isEmpty)
    }

    @Test func concurrentEditsLeaveTwoHeadsAndALocalEditResolvesThem() throws {
        let log = try ArticleLog(path: folder.sub("log.sqlite"))
        let (base, baseBlobs) = try chain(["gốc"])
        _ = try log.appendRemote(base, blobs: baseBlobs, keys: keys, wallMillis: 1)
        // A second origin edits the same base concurrently with the first.
        let other = SiteKey()
        let bytes = Array("bản của site khác".utf8)
        let hash = ContentHash.of(bytes)
        let concurrent = try LogEntry(signer: other, sequence: 1, article: ArticlePath("a.txt"), operation: .put, contentHash: hash,
                                      size: UInt64(bytes.count), replaces: [base[0].version], time: HybridTimestamp(milliseconds: 5000, counter: 0), previous: nil)
        let (mine, mineBlobs) = try chain(["gốc", "bản của site gốc"])
        _ = try log.appendRemote([mine[1]], blobs: mineBlobs, keys: keys, wallMillis: 1)
        let (encoding, data) = BlobCodec.encode(bytes)
        _ = try log.appendRemote([concurrent], blobs: [hash: StoredBlob(hash: hash, size: UInt64(bytes.count), encoding: encoding, data: data)],
                                 keys: [other.siteID: other.publicKey], wallMillis: 1)
        #expect(try log.heads(of: ArticlePath("a.txt")).count == 2)
        #expect(log.stats.conflictedArticles == 1)
        #expect(try log.conflictedArticles() == [ArticlePath("a.txt")])
        #expect(try log.winningHead(of: ArticlePath("a.txt")) == concurrent)

        // The file held this site's version: an edit replaces that version only, the concurrent
        // head stays, and the article stays in conflict.
        let local = SiteKey()
        var clock = HybridLogicalClock()
        let article = try ArticlePath("a.txt")
        let held = Array("bản của site gốc".utf8)
        try log.setFileState(FileState(path: "a.txt", article: article, size: Int64(held.count), mtimeNanos: 1, ctimeNanos: 1, inode: 1,
                                       contentHash: .of(held), base: mine[1].version))
        let edit = Array("sửa trên bản gốc".utf8)
        let editState = FileState(path: "a.txt", article: article, size: Int64(edit.count), mtimeNanos: 2, ctimeNanos: 2, inode: 1, contentHash: .of(edit))
        let edited = try log.recordLocal([LocalChange(article: article, kind: .put(bytes: edit, hash: .of(edit), file: editState))],
                                         signer: local, clock: &clock, wallMillis: 10)
        #expect(edited.count == 1)
        #expect(edited[0].replaces == [mine[1].version])
        #expect(Set(try log.heads(of: article)) == [concurrent, edited[0]])
        #expect(log.stats.conflictedArticles == 1)
        #expect(try log.fileState(path: "a.txt")?.base == edited[0].version)

        // A resolve replaces every head it names.
        let text = Array("gộp cả hai".utf8)
        let state = FileState(path: "a.txt", article: article, size: Int64(text.count), mtimeNanos: 3, ctimeNanos: 3, inode: 1, contentHash: .of(text))
        let made = try log.recordLocal([LocalChange(article: article, kind: .put(bytes: text, hash: .of(text), file: state),
                                                    resolves: [edited[0].version, concurrent.version])],
                                       signer: local, clock: &clock, wallMillis: 10)
        #expect(Set(made[0].replaces) == [edited[0].version, concurrent.version])
        #expect(try log.heads(of: article) == made)
        #expect(log.stats.conflictedArticles == 0)
        #expect(try log.verify().problems.isEmpty)
    }

    @Test func aFileNeverWrittenHereMakesAConcurrentEntryAndItsDeleteMakesNone() throws {
        let log = try ArticleLog(path: folder.sub("log.sqlite"))
        let (remote, blobs) = try chain(["từ site khác"])
        _ = try log.appendRemote(remote, blobs: blobs, keys: keys, wallMillis: 1)
        let article = try ArticlePath("a.txt")
        let local = SiteKey()
        var clock = HybridLogicalClock()
        // The remote version never reached this folder (no file state): a file an editor makes
        // there is concurrent with it, not a replacement.
        let mine = Array("bản viết tay".utf8)
        let state = FileState(path: "a.txt", article: article, size: Int64(mine.count), mtimeNanos: 1, ctimeNanos: 1, inode: 7, contentHash: .of(mine))
        let made = try log.recordLocal([LocalChange(article: article, kind: .put(bytes: mine, hash: .of(mine), file: state))],
                                       signer: local, clock: &clock, wallMillis: 10)
        #expect(made.first?.replaces == [])
        #expect(try log.heads(of: article).count == 2)
        // Same bytes as a head: no entry, and the file's base becomes that head.
        let again = try log.recordLocal([LocalChange(article: article, kind: .put(bytes: mine, hash: .of(mine), file: state))],
                                        signer: local, clock: &clock, wallMillis: 11)
        #expect(again.isEmpty)
        #expect(try log.fileState(path: "a.txt")?.base == made.first?.version)
        // A delete of a path that held nothing recorded makes no entry.
        let other = try ArticlePath("b.txt")
        let (b, bBlobs) = try chain(["bản một", "bài b"])
        _ = try log.appendRemote([b[1]], blobs: bBlobs, keys: keys, wallMillis: 1)
        #expect(try log.recordLocal([LocalChange(article: other, kind: .delete(path: "b.txt"))], signer: local, clock: &clock, wallMillis: 12).isEmpty)
        #expect(try log.verify().problems.isEmpty)
    }

    /// One first entry from each of `count` new origins, with their blobs and keys.
    func firstEntries(ofOrigins count: Int) throws -> ([LogEntry], [ContentHash: StoredBlob], [SiteID: SiteKey.Public]) {
        var made: [LogEntry] = []
        var blobs: [ContentHash: StoredBlob] = [:]
        var keys: [SiteID: SiteKey.Public] = [:]
        for index in 0..<count {
            let key = SiteKey()
            let bytes = Array("tin \(index)".utf8)
            blobs[.of(bytes)] = StoredBlob(hash: .of(bytes), size: UInt64(bytes.count), encoding: .raw, data: bytes)
            keys[key.siteID] = key.publicKey
            made.append(try LogEntry(signer: key, sequence: 1, article: ArticlePath("tin-\(index).txt"), operation: .put, contentHash: .of(bytes),
                                     size: UInt64(bytes.count), replaces: [], time: HybridTimestamp(milliseconds: 1000, counter: 0), previous: nil))
        }
        return (made, blobs, keys)
    }

    @Test func aNewOriginPastTheVectorLimitIsRefusedAndNothingAfterItIsStored() throws {
        let log = try ArticleLog(path: folder.sub("log.sqlite"))
        log.maximumOrigins = 2
        let (made, blobs, keys) = try firstEntries(ofOrigins: 3)
        let result = try log.appendRemote(made, blobs: blobs, keys: keys, wallMillis: 1)
        #expect(result.stored.count == 2)
        #expect(result.rejection?.code == .tooLarge)
        #expect(log.versionVector().sequences.count == 2)
        // A known origin still gets in.
        #expect(try log.verify().problems.isEmpty)
    }

    @Test func aSiteAtTheOriginLimitMakesNoEntryPeersWouldRefuse() throws {
        let log = try ArticleLog(path: folder.sub("log.sqlite"))
        log.maximumOrigins = 2
        let (made, blobs, keys) = try firstEntries(ofOrigins: 2)
        #expect(try log.appendRemote(made, blobs: blobs, keys: keys, wallMillis: 1).stored.count == 2)
        // This site's first edit would be a third origin: refused, nothing stored, the vector unchanged.
        let bytes = Array("bài của site này".utf8)
        var clock = HybridLogicalClock()
        let state = FileState(path: "rieng.txt", article: try ArticlePath("rieng.txt"), size: Int64(bytes.count), mtimeNanos: 1, ctimeNanos: 1,
                              inode: 1, contentHash: .of(bytes))
        #expect(throws: OriginLimit.self) {
            try log.recordLocal([LocalChange(article: try ArticlePath("rieng.txt"), kind: .put(bytes: bytes, hash: .of(bytes), file: state))],
                                signer: SiteKey(), clock: &clock, wallMillis: 2)
        }
        #expect(log.versionVector().sequences.count == 2)
        #expect(log.stats.entries == 2)
        #expect(try log.verify().problems.isEmpty)
    }

    @Test func aResolveOfMoreHeadsThanOneEntryMayReplaceIsAChainPeersAccept() throws {
        let log = try ArticleLog(path: folder.sub("log.sqlite"))
        // 1,030 concurrent versions of one article (a flood relayed from a buggy site).
        let flood = SiteKey()
        var entries: [LogEntry] = []
        var blobs: [ContentHash: StoredBlob] = [:]
        for index in 0..<1030 {
            let bytes = Array("bản \(index)".utf8)
            blobs[.of(bytes)] = StoredBlob(hash: .of(bytes), size: UInt64(bytes.count), encoding: .raw, data: bytes)
            entries.append(try LogEntry(signer: flood, sequence: UInt64(index + 1), article: ArticlePath("a.txt"), operation: .put,
                                        contentHash: .of(bytes), size: UInt64(bytes.count), replaces: [],
                                        time: HybridTimestamp(milliseconds: 1000, counter: UInt16(index)), previous: entries.last?.version))
        }
        #expect(try log.appendRemote(entries, blobs: blobs, keys: [flood.siteID: flood.publicKey], wallMillis: 1).stored.count == 1030)
        let article = try ArticlePath("a.txt")
        let heads = try log.heads(of: article)
        #expect(heads.count == 1030)
        let local = SiteKey()
        var clock = HybridLogicalClock()
        let text = Array("bản đã gộp".utf8)
        let state = FileState(path: "a.txt", article: article, size: Int64(text.count), mtimeNanos: 1, ctimeNanos: 1, inode: 1, contentHash: .of(text))
        let made = try log.recordLocal([LocalChange(article: article, kind: .put(bytes: text, hash: .of(text), file: state), resolves: heads.map(\.version))],
                                       signer: local, clock: &clock, wallMillis: 2_000)
        #expect(made.count == 2)
        #expect(made.allSatisfy { $0.replaces.count <= WireCodec.maximumReplaces })
        #expect(try log.heads(of: article) == [made[1]], "one head: the conflict is closed")
        // Every entry round-trips through the wire codec, as a peer would decode it.
        for entry in made {
            #expect(try WireCodec.decode(WireCodec.encode(.entry(entry))) == .entry(entry))
        }
        #expect(try log.verify().problems.isEmpty)
    }

    @Test func aRevokedOriginsLaterEntriesAreStoredButHeldAsideAndTrustedAgainOnRemoval() throws {
        let log = try ArticleLog(path: folder.sub("log.sqlite"))
        let article = try ArticlePath("a.txt")
        let (entries, blobs) = try chain(["một", "hai", "ba", "bốn"])
        _ = try log.appendRemote(Array(entries[..<2]), blobs: blobs, keys: keys, wallMillis: 1)
        try log.revoke([origin.siteID], wallMillis: 2)
        #expect(log.revokedAt == [origin.siteID: 2])
        let result = try log.appendRemote(Array(entries[2...]), blobs: blobs, keys: keys, wallMillis: 3)
        #expect(result.stored.count == 2 && result.revoked == 2 && result.rejection == nil)
        // Stored (the chain stays whole, so a peer's vector and this one agree), but not versions here.
        #expect(log.versionVector() == VersionVector([origin.siteID: 4]))
        #expect(try log.heads(of: article) == [entries[1]])
        #expect(try log.verify().problems.isEmpty)

        // Another site's edit built on a held-aside version is taken: here it is concurrent with #2.
        let other = SiteKey()
        let bytes = Array("sửa trên bản bốn".utf8)
        let edit = try LogEntry(signer: other, sequence: 1, article: article, operation: .put, contentHash: .of(bytes),
                                size: UInt64(bytes.count), replaces: [entries[3].version], time: HybridTimestamp(milliseconds: 9_000, counter: 0), previous: nil)
        let stored = try log.appendRemote([edit], blobs: [.of(bytes): StoredBlob(hash: .of(bytes), size: UInt64(bytes.count), encoding: .raw, data: bytes)],
                                          keys: [other.siteID: other.publicKey], wallMillis: 4)
        #expect(stored.stored == [edit] && stored.rejection == nil)
        #expect(Set(try log.heads(of: article)) == [entries[1], edit])
        #expect(try log.verify().problems.isEmpty)

        // Kept across a reopen; trusted again, the held-aside versions count like any other.
        let reopened = try ArticleLog(path: folder.sub("log.sqlite"))
        #expect(reopened.revokedAt == [origin.siteID: 2])
        try reopened.revoke([], wallMillis: 5)
        #expect(try reopened.heads(of: article) == [edit], "#4 replaced #2, and the edit replaced #4")
        #expect(reopened.stats.conflictedArticles == 0 && reopened.stats.liveArticles == 1)
        #expect(try reopened.verify().problems.isEmpty)
    }

    @Test func missingPositionsAreInArrivalOrder() throws {
        let log = try ArticleLog(path: folder.sub("log.sqlite"))
        let (entries, blobs) = try chain(["1", "2", "3", "4"])
        _ = try log.appendRemote(entries, blobs: blobs, keys: keys, wallMillis: 1)
        let positions = try log.missingPositions(for: VersionVector([origin.siteID: 2]))
        #expect(try log.entries(at: positions[...]).map(\.1) == Array(entries[2...]))
        #expect(try log.missingPositions(for: log.versionVector()).isEmpty)
    }
}
