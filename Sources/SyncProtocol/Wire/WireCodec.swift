/// Encodes and decodes replication frames' bodies. Pure: bytes in, messages out.
///
/// Decoding never traps: every length is checked against what is left and against its own limit
/// before anything is copied, and any inconsistency is a `WireError` with code `malformedFrame`.
public enum WireCodec {
    public static let minimumVersion: UInt16 = 1
    /// v2 adds `blob_delta`; v3 changes the conflict rule (a put beats a concurrent delete) and
    /// lets an entry replace exactly the version its file held. No frame changed in v3. v4 adds
    /// `chain_tips`: two chains of one origin are found and both kept. v5 adds `author`: who made
    /// each entry, signed by its origin apart from the entry (older peers get the entries alone).
    public static let currentVersion: UInt16 = 5
    /// The first version that may carry `blob_delta`.
    public static let deltaVersion: UInt16 = 2
    /// The first version that carries `chain_tips`.
    public static let chainTipsVersion: UInt16 = 4
    /// The first version that carries `author`.
    public static let authorVersion: UInt16 = 5
    /// The hard maximum frame body. Blobs larger than a frame travel in several parts.
    public static let maximumFrameLength = 4 << 20
    /// The largest article content any blob may claim, whatever a site's `max_file_bytes`: a
    /// receiver refuses a larger claim before allocating anything for it.
    public static let maximumBlobBytes: UInt64 = 1 << 30
    /// Blob bytes per part, leaving room for the part's header.
    public static let blobPartLength = (4 << 20) - 1024
    static let magic: [UInt8] = Array("NEWSD".utf8)
    /// Limits every receiver enforces, in one place: the decoder refuses messages past them and the
    /// store neither accepts nor creates entries past them (an entry every peer refuses would stop
    /// replication for good: the log is append-only).
    public static let maximumVectorOrigins = 100_000
    /// The largest content, and the largest base, a site sends a `blob_delta` for: applying one
    /// needs both whole in memory, so larger articles travel whole (in parts, hashed as they are
    /// decoded).
    public static let maximumDeltaBytes: UInt64 = 64 << 20
    /// What a site accepts: more than it sends, because peers from before that limit sent deltas
    /// up to their `max_file_bytes`; refusing them would stall those links for good.
    public static let maximumAcceptedDeltaBytes: UInt64 = 256 << 20
    public static let maximumReplaces = 1024

    public static func encode(_ message: WireMessage) -> [UInt8] {
        var w = ByteWriter(capacity: 128)
        w.write(message.kind.rawValue)
        switch message {
        case .hello(let hello):
            w.write(raw: magic)
            w.write(hello.minimumVersion)
            w.write(hello.maximumVersion)
            w.write(string: hello.siteID.rawValue)
            w.write(string: hello.siteName)
        case .vector(let vector):
            let sorted = vector.sequences.sorted { $0.key < $1.key }
            w.write(UInt32(sorted.count))
            for (origin, sequence) in sorted {
                w.write(string: origin.rawValue)
                w.write(sequence)
            }
        case .site(let der):
            w.write(lengthPrefixed: der)
        case .blobPart(let part):
            w.write(raw: part.hash.bytes)
            w.write(part.size)
            w.write(part.encoding)
            w.write(part.storedSize)
            w.write(part.offset)
            w.write(lengthPrefixed: part.bytes)
        case .entry(let entry):
            encode(entry, into: &w)
        case .caughtUp:
            break
        case .ping(let nonce), .pong(let nonce):
            w.write(nonce)
        case .status(let report):
            w.write(report.articles)
            w.write(report.logEntries)
            w.write(report.peersConnected)
            w.write(report.peersConfigured)
        case .error(let error):
            w.write(error.code.rawValue)
            w.write(string: String(error.message.prefix(1000)))
        case .goodbye(let reason):
            w.write(string: String(reason.prefix(1000)))
        case .blobDelta(let delta):
            w.write(raw: delta.hash.bytes)
            w.write(delta.size)
            w.write(raw: delta.base.bytes)
            w.write(lengthPrefixed: delta.bytes)
        case .chainTips(let frame):
            w.write(frame.last ? UInt8(1) : 0)
            w.write(UInt32(frame.tips.count))
            for tip in frame.tips {
                w.write(string: tip.origin.rawValue)
                w.write(UInt8(min(tip.checkpoints.count, ChainTip.maximumCheckpoints)))
                for checkpoint in tip.checkpoints.prefix(ChainTip.maximumCheckpoints) {
                    w.write(checkpoint.sequence)
                    w.write(raw: checkpoint.version.bytes)
                }
                w.write(tip.besideCount)
                w.write(raw: tip.besideDigest.bytes)
            }
        case .author(let author):
            w.write(raw: author.version.bytes)
            w.write(string: author.name)
            w.write(lengthPrefixed: author.signature)
        }
        return w.bytes
    }

    static func encode(_ entry: LogEntry, into w: inout ByteWriter) {
        w.write(string: entry.origin.rawValue)
        w.write(entry.sequence)
        w.write(string: entry.article.rawValue)
        w.write(entry.operation.rawValue)
        w.write(entry.contentHash == nil ? UInt8(0) : 1)
        if let hash = entry.contentHash { w.write(raw: hash.bytes) }
        w.write(entry.size)
        w.write(UInt32(entry.replaces.count))
        for parent in entry.replaces { w.write(raw: parent.bytes) }
        w.write(entry.time.rawValue)
        w.write(entry.previous == nil ? UInt8(0) : 1)
        if let previous = entry.previous { w.write(raw: previous.bytes) }
        w.write(raw: entry.version.bytes)
        w.write(lengthPrefixed: entry.signature)
    }

    public static func decode(_ body: [UInt8]) throws(WireError) -> WireMessage {
        var r = ByteReader(body)
        do {
            let message = try decodeFields(&r)
            guard r.isAtEnd else { throw WireError(.malformedFrame, "\(r.remaining) unexpected bytes after a \(message.kind) message") }
            return message
        } catch let error as WireError {
            throw error
        } catch let error as ByteReader.ReadError {
            throw WireError(.malformedFrame, "\(error)")
        } catch {
            throw WireError(.malformedFrame, "\(error)")
        }
    }

    private static func decodeFields(_ r: inout ByteReader) throws -> WireMessage {
        let type = try r.readUInt8()
        guard let kind = WireMessage.Kind(rawValue: type) else { throw WireError(.malformedFrame, "unknown message type \(type)") }
        switch kind {
        case .hello:
            guard try r.readRaw(count: magic.count) == magic else { throw WireError(.badHandshake, "not a newsd peer (bad magic)") }
            let minimum = try r.readUInt16(), maximum = try r.readUInt16()
            guard minimum <= maximum else { throw WireError(.badHandshake, "version range v\(minimum)-v\(maximum) is empty") }
            let site = try siteID(&r)
            let name = try r.readString(limit: 256)
            return .hello(Hello(minimumVersion: minimum, maximumVersion: maximum, siteID: site, siteName: name))
        case .vector:
            let count = Int(try r.readUInt32())
            guard count <= maximumVectorOrigins else { throw WireError(.malformedFrame, "vector of \(count) origins") }
            var sequences: [SiteID: UInt64] = [:]
            for _ in 0..<count {
                let origin = try siteID(&r)
                guard sequences[origin] == nil else { throw WireError(.malformedFrame, "origin \(origin) twice in a vector") }
                sequences[origin] = try r.readUInt64()
            }
            return .vector(VersionVector(sequences))
        case .site:
            return .site(publicKeyDER: try r.readLengthPrefixed(limit: 1024))
        case .blobPart:
            let hash = ContentHash(bytes: try r.readRaw(count: 32))!
            let size = try r.readUInt64()
            let encoding = try r.readUInt8()
            guard encoding <= 1 else { throw WireError(.malformedFrame, "unknown blob encoding \(encoding)") }
            let stored = try r.readUInt64()
            let offset = try r.readUInt64()
            let bytes = try r.readLengthPrefixed(limit: maximumFrameLength)
            guard offset <= stored, UInt64(bytes.count) <= stored - offset else {
                throw WireError(.malformedFrame, "blob part \(offset)+\(bytes.count) runs past its total of \(stored)")
            }
            return .blobPart(BlobPart(hash: hash, size: size, encoding: encoding, storedSize: stored, offset: offset, bytes: bytes))
        case .entry:
            return .entry(try entry(&r))
        case .blobDelta:
            let hash = ContentHash(bytes: try r.readRaw(count: 32))!
            let size = try r.readUInt64()
            let base = ContentHash(bytes: try r.readRaw(count: 32))!
            let bytes = try r.readLengthPrefixed(limit: maximumFrameLength)
            return .blobDelta(BlobDelta(hash: hash, size: size, base: base, bytes: bytes))
        case .caughtUp:
            return .caughtUp
        case .ping:
            return .ping(try r.readUInt64())
        case .pong:
            return .pong(try r.readUInt64())
        case .status:
            return .status(PeerReport(articles: try r.readUInt64(), logEntries: try r.readUInt64(),
                                      peersConnected: try r.readUInt16(), peersConfigured: try r.readUInt16()))
        case .error:
            let code = WireError.Code(rawValue: try r.readUInt16()) ?? .unknown
            return .error(WireError(code, try r.readString(limit: 4096)))
        case .goodbye:
            return .goodbye(try r.readString(limit: 4096))
        case .chainTips:
            let last = try r.readUInt8()
            guard last <= 1 else { throw WireError(.malformedFrame, "bad last flag in chain tips") }
            let count = Int(try r.readUInt32())
            guard count <= maximumVectorOrigins else { throw WireError(.malformedFrame, "chain tips of \(count) origins") }
            var tips: [ChainTip] = []
            var seen = Set<SiteID>()
            for _ in 0..<count {
                let origin = try siteID(&r)
                guard seen.insert(origin).inserted else { throw WireError(.malformedFrame, "origin \(origin) twice in chain tips") }
                let places = Int(try r.readUInt8())
                guard places <= ChainTip.maximumCheckpoints else { throw WireError(.malformedFrame, "\(places) checkpoints for \(origin)") }
                var checkpoints: [ChainTip.Checkpoint] = []
                for _ in 0..<places {
                    checkpoints.append(ChainTip.Checkpoint(sequence: try r.readUInt64(), version: VersionID(bytes: try r.readRaw(count: 32))!))
                }
                let besideCount = try r.readUInt32()
                let digest = Digest32(bytes: try r.readRaw(count: 32))!
                tips.append(ChainTip(origin: origin, checkpoints: checkpoints, besideCount: besideCount, besideDigest: digest))
            }
            return .chainTips(ChainTips(tips: tips, last: last == 1))
        case .author:
            let version = VersionID(bytes: try r.readRaw(count: 32))!
            let name = try r.readString(limit: EntryAuthor.maximumWireNameBytes)
            return .author(EntryAuthor(version: version, name: name, signature: try r.readLengthPrefixed(limit: 128)))
        }
    }

    private static func siteID(_ r: inout ByteReader) throws -> SiteID {
        let text = try r.readString(limit: 64)
        guard let id = SiteID(text) else { throw WireError(.malformedFrame, "'\(text)' is not a site ID") }
        return id
    }

    private static func entry(_ r: inout ByteReader) throws -> LogEntry {
        let origin = try siteID(&r)
        let sequence = try r.readUInt64()
        let articleText = try r.readString(limit: 4096)
        let article: ArticlePath
        do { article = try ArticlePath(articleText) } catch {
            throw WireError(.malformedFrame, "entry with an invalid article path: \(error.description)")
        }
        guard let operation = Operation(rawValue: try r.readUInt8()) else { throw WireError(.malformedFrame, "unknown operation") }
        let hasHash = try r.readUInt8()
        let contentHash = hasHash == 1 ? ContentHash(bytes: try r.readRaw(count: 32)) : nil
        guard hasHash <= 1 else { throw WireError(.malformedFrame, "bad content-hash flag") }
        let size = try r.readUInt64()
        let replacesCount = Int(try r.readUInt32())
        guard replacesCount <= maximumReplaces else { throw WireError(.malformedFrame, "entry replaces \(replacesCount) versions") }
        var replaces: [VersionID] = []
        for _ in 0..<replacesCount { replaces.append(VersionID(bytes: try r.readRaw(count: 32))!) }
        let time = HybridTimestamp(rawValue: try r.readUInt64())
        let hasPrevious = try r.readUInt8()
        guard hasPrevious <= 1 else { throw WireError(.malformedFrame, "bad previous flag") }
        let previous = hasPrevious == 1 ? VersionID(bytes: try r.readRaw(count: 32)) : nil
        let version = VersionID(bytes: try r.readRaw(count: 32))!
        let signature = try r.readLengthPrefixed(limit: 128)
        return LogEntry(origin: origin, sequence: sequence, article: article, operation: operation, contentHash: contentHash,
                        size: size, replaces: replaces, time: time, previous: previous, version: version, signature: signature)
    }
}
