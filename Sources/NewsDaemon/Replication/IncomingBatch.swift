import Store
import SyncProtocol

/// What a peer has sent that is not stored yet: entries, the blobs and keys they need, and blobs
/// still arriving in parts. Every blob is re-hashed the moment its last part arrives.
struct IncomingBatch {
    var entries: [LogEntry] = []
    var blobs: [ContentHash: StoredBlob] = [:]
    /// Keys stay for the whole session: a peer sends each origin's key once.
    var keys: [SiteID: SiteKey.Public] = [:]
    private var partial: [ContentHash: BlobPart] = [:]
    /// Authors sent ahead of their entries (protocol v5), until the entry arrives.
    private var authors: [VersionID: EntryAuthor] = [:]
    /// A sender puts each author right before its entry: more waiting than this is not a sender
    /// following the protocol.
    static let maximumWaitingAuthors = 64
    /// Re-compresses content that arrived as a delta, for the blob table.
    private let compressor = BlobCodec.Compressor()
    private(set) var pendingBytes = 0

    /// Blob bytes held for one session before it is refused: a peer cannot make newsd buffer
    /// more than this, whatever it sends.
    let maximumPendingBytes: Int

    /// The largest article content a blob may claim: the protocol's limit, checked before anything
    /// is allocated for it. Not this site's `max_file_bytes`: refusing a peer's larger article would
    /// stop that peer's chain for good (each origin's entries arrive in order); the local limit
    /// decides what this site records, not what it stores from others.
    let maximumBlobBytes: UInt64

    init(maximumPendingBytes: Int = 256 << 20, maximumBlobBytes: UInt64 = WireCodec.maximumBlobBytes) {
        self.maximumPendingBytes = maximumPendingBytes
        self.maximumBlobBytes = min(maximumBlobBytes, WireCodec.maximumBlobBytes)
    }

    var isEmpty: Bool { entries.isEmpty }
    /// Entries this many, or this many bytes, make a transaction worth committing.
    var isFull: Bool { entries.count >= 512 || pendingBytes >= 32 << 20 }

    mutating func take(_ message: WireMessage) throws(WireError) {
        switch message {
        case .site(let der):
            guard let key = try? SiteKey.Public(der: der) else { throw WireError(.malformedFrame, "site message with an unreadable public key") }
            guard keys[key.siteID] != nil || keys.count < WireCodec.maximumVectorOrigins else {
                throw WireError(.tooLarge, "peer sent keys of more than \(WireCodec.maximumVectorOrigins) sites")
            }
            keys[key.siteID] = key
        case .blobPart(let part):
            try take(part)
        case .entry(var entry):
            entry.author = authors.removeValue(forKey: entry.version)
            entries.append(entry)
        case .author(let author):
            authors[author.version] = author
            guard authors.count <= Self.maximumWaitingAuthors else {
                throw WireError(.unexpectedMessage, "peer sent \(authors.count) authors without their entries")
            }
        default:
            throw WireError(.unexpectedMessage, "\(message.kind) is not content")
        }
    }

    private mutating func take(_ part: BlobPart) throws(WireError) {
        guard let encoding = BlobCodec.Encoding(rawValue: Int(part.encoding)) else { throw WireError(.malformedFrame, "unknown blob encoding") }
        guard part.size <= maximumBlobBytes else {
            throw WireError(.tooLarge, "blob \(part.hash.hex) claims \(part.size) bytes; the protocol's limit is \(maximumBlobBytes)")
        }
        guard part.storedSize <= UInt64(maximumPendingBytes), part.storedSize <= max(part.size, 64) + part.size / 8 + 1024 else {
            throw WireError(.tooLarge, "blob \(part.hash.hex) of \(part.storedSize) stored bytes for \(part.size) is over the limit")
        }
        var assembled: BlobPart
        if part.offset == 0 {
            assembled = part
        } else {
            // Taken out of the table before appending, so the bytes are appended in place (a copy
            // per part made reassembly quadratic in the blob's size).
            guard var existing = partial.removeValue(forKey: part.hash), existing.storedSize == part.storedSize,
                  UInt64(existing.bytes.count) == part.offset else {
                throw WireError(.malformedFrame, "blob \(part.hash.hex): part at \(part.offset) does not continue what was sent")
            }
            existing.bytes += part.bytes
            assembled = existing
        }
        pendingBytes += part.bytes.count
        guard pendingBytes <= maximumPendingBytes else { throw WireError(.tooLarge, "peer sent more than \(maximumPendingBytes) bytes of blobs without their entries") }
        if UInt64(assembled.bytes.count) == assembled.storedSize {
            partial.removeValue(forKey: part.hash)
            blobs[part.hash] = try StoredBlob(hash: part.hash, size: part.size, encoding: encoding, data: assembled.bytes).verified()
        } else {
            partial[part.hash] = assembled
        }
    }

    /// The content of a blob received in this batch and not stored yet, to apply a delta to; a
    /// base larger than `maximumBytes` is refused before it is decoded.
    func content(of hash: ContentHash, maximumBytes: UInt64) throws(WireError) -> [UInt8]? {
        guard let blob = blobs[hash] else { return nil }
        guard blob.size <= maximumBytes else {
            throw WireError(.tooLarge, "delta against blob \(hash.hex) of \(blob.size) bytes; a delta's base may have at most \(maximumBytes)")
        }
        return try? BlobCodec.decode(blob.data, encoding: blob.encoding, size: Int(blob.size))
    }

    /// A blob sent as a delta from `base` (which the caller found here or in the log): rebuilt,
    /// re-hashed, and kept compressed like any other.
    mutating func take(_ delta: BlobDelta, base: [UInt8]) throws(WireError) {
        guard delta.size <= maximumBlobBytes, delta.size <= UInt64(maximumPendingBytes) else {
            throw WireError(.tooLarge, "blob \(delta.hash.hex) claims \(delta.size) bytes; the protocol's limit is \(maximumBlobBytes)")
        }
        let bytes: [UInt8]
        do { bytes = try BlobCodec.applyDelta(delta.bytes, to: base, size: Int(delta.size)) } catch {
            throw WireError(.blobMismatch, "delta for blob \(delta.hash.hex) does not apply to \(delta.base.hex): \(error)")
        }
        guard ContentHash.of(bytes) == delta.hash else {
            throw WireError(.blobMismatch, "delta claimed as \(delta.hash.hex) gives \(ContentHash.of(bytes).hex)")
        }
        let (encoding, data) = compressor.encode(bytes)
        pendingBytes += data.count
        guard pendingBytes <= maximumPendingBytes else { throw WireError(.tooLarge, "peer sent more than \(maximumPendingBytes) bytes of blobs without their entries") }
        blobs[delta.hash] = StoredBlob(hash: delta.hash, size: delta.size, encoding: encoding, data: data)
    }

    /// Positions in `entries` of those whose hash, shape, signature and author (if any) verify with
    /// a key this session sent (see `ArticleLog.appendRemote`'s `checked`). Checked on the session's thread while the store thread stores the batch
    /// before (two signatures each: about a fifth of what storing a batch cost). The rest (an origin
    /// whose key the log held before, a bad signature) are checked, and answered, by the store.
    func checkedSignatures(of entries: [LogEntry]) -> Set<Int> {
        var checked = Set<Int>(minimumCapacity: entries.count)
        for (position, entry) in entries.enumerated() {
            guard let key = keys[entry.origin], (try? entry.check(originKey: key)) != nil else { continue }
            if let author = entry.author, !author.isValid(for: entry, originKey: key) { continue }
            checked.insert(position)
        }
        return checked
    }

    /// Hands over the entries and blobs to store; blobs no entry in the batch uses stay (their
    /// entry may be in the next frame).
    mutating func drain() -> (entries: [LogEntry], blobs: [ContentHash: StoredBlob]) {
        let out = (entries, blobs)
        let used = Set(entries.compactMap(\.contentHash))
        blobs = blobs.filter { !used.contains($0.key) }
        entries.removeAll(keepingCapacity: true)
        pendingBytes = blobs.values.reduce(0) { $0 + $1.data.count } + partial.values.reduce(0) { $0 + $1.bytes.count }
        return out
    }
}
