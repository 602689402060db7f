/// Everything two sites say to each other over a replication session. Each is one frame:
/// a 32-bit big-endian length, a one-byte type, then the fields in `WireCodec`'s order.
public enum WireMessage: Sendable, Equatable {
    /// First message each way: who the site is and which protocol versions it speaks.
    case hello(Hello)
    /// The sender's version vector: per origin, the highest sequence it holds with no gap below.
    case vector(VersionVector)
    /// An origin's public key, sent before the first of its entries in a session so the receiver
    /// can check signatures of sites it has never talked to (A's entries forwarded by B to C).
    case site(publicKeyDER: [UInt8])
    /// A piece of a blob, as stored (compressed or raw); big blobs span several frames.
    case blobPart(BlobPart)
    /// One log entry; its blob, if any, and its origin's key were sent before it.
    case entry(LogEntry)
    /// The sender has sent everything the receiver lacked when the session began; live pushes follow.
    case caughtUp
    case ping(UInt64)
    case pong(UInt64)
    /// What the sender reports of itself, for `newsctl peers`.
    case status(PeerReport)
    /// The sender is ending the session because of this; it closes after sending.
    case error(WireError)
    /// A clean end (shutdown, duplicate session).
    case goodbye(String)
    /// A blob as the difference from another the receiver holds (protocol v2): an edited article
    /// costs its change, not its length.
    case blobDelta(BlobDelta)
    /// Per origin, the versions at a few places of the chain the sender holds (its tip first) and
    /// what it keeps beside it (protocol v4), sent right after the vector: see `ChainFork.swift`.
    case chainTips(ChainTips)
    /// Who made the entry that follows it (protocol v5), signed by that entry's origin.
    case author(EntryAuthor)

    public enum Kind: UInt8, Sendable, CaseIterable {
        case hello = 1, vector, site, blobPart, entry, caughtUp, ping, pong, status, error, goodbye, blobDelta, chainTips, author
    }

    public var kind: Kind {
        switch self {
        case .hello: .hello
        case .vector: .vector
        case .site: .site
        case .blobPart: .blobPart
        case .entry: .entry
        case .caughtUp: .caughtUp
        case .ping: .ping
        case .pong: .pong
        case .status: .status
        case .error: .error
        case .goodbye: .goodbye
        case .blobDelta: .blobDelta
        case .chainTips: .chainTips
        case .author: .author
        }
    }
}

public struct Hello: Sendable, Equatable {
    /// Protocol versions this build speaks, inclusive.
    public var minimumVersion: UInt16
    public var maximumVersion: UInt16
    public var siteID: SiteID
    public var siteName: String

    public init(minimumVersion: UInt16 = WireCodec.minimumVersion, maximumVersion: UInt16 = WireCodec.currentVersion,
                siteID: SiteID, siteName: String) {
        self.minimumVersion = minimumVersion
        self.maximumVersion = maximumVersion
        self.siteID = siteID
        self.siteName = siteName
    }

    /// The highest version both sides speak, or why there is none, naming both ranges.
    public static func negotiate(local: Hello, remote: Hello) -> Result<UInt16, WireError> {
        let agreed = min(local.maximumVersion, remote.maximumVersion)
        guard agreed >= max(local.minimumVersion, remote.minimumVersion) else {
            return .failure(WireError(.versionMismatch,
                "peer speaks protocol v\(remote.minimumVersion)-v\(remote.maximumVersion), we speak v\(local.minimumVersion)-v\(local.maximumVersion): upgrade the older site"))
        }
        return .success(agreed)
    }
}

public struct BlobPart: Sendable, Equatable {
    public var hash: ContentHash
    /// Raw size of the content.
    public var size: UInt64
    /// 0 raw, 1 zstd, as in the blob table.
    public var encoding: UInt8
    /// Total bytes of the stored form, across all parts.
    public var storedSize: UInt64
    public var offset: UInt64
    public var bytes: [UInt8]

    public init(hash: ContentHash, size: UInt64, encoding: UInt8, storedSize: UInt64, offset: UInt64, bytes: [UInt8]) {
        self.hash = hash
        self.size = size
        self.encoding = encoding
        self.storedSize = storedSize
        self.offset = offset
        self.bytes = bytes
    }

    public var isLast: Bool { offset + UInt64(bytes.count) == storedSize }
}

/// The content `hash` (raw `size` bytes) as a zstd frame compressed with the content `base` as its
/// dictionary prefix. The sender picks a base the receiver's version vector shows it holds.
public struct BlobDelta: Sendable, Equatable {
    public var hash: ContentHash
    public var size: UInt64
    public var base: ContentHash
    public var bytes: [UInt8]

    public init(hash: ContentHash, size: UInt64, base: ContentHash, bytes: [UInt8]) {
        self.hash = hash
        self.size = size
        self.base = base
        self.bytes = bytes
    }
}

public struct PeerReport: Sendable, Equatable, Codable {
    public var articles: UInt64
    public var logEntries: UInt64
    public var peersConnected: UInt16
    public var peersConfigured: UInt16

    public init(articles: UInt64, logEntries: UInt64, peersConnected: UInt16, peersConfigured: UInt16) {
        self.articles = articles
        self.logEntries = logEntries
        self.peersConnected = peersConnected
        self.peersConfigured = peersConfigured
    }
}

/// Why a session ended, with a code the other side can switch on.
public struct WireError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: UInt16, Sendable {
        case versionMismatch = 1
        case badHandshake = 2
        case notAllowed = 3
        case malformedFrame = 4
        case chainBroken = 5
        case blobMismatch = 6
        case badSignature = 7
        case unexpectedMessage = 8
        case duplicateSession = 9
        case tooLarge = 10
        case timeout = 11
        case `internal` = 12
        case unknown = 0xffff
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}
