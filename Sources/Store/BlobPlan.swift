import SyncProtocol

/// How an entry's content goes to a peer: not at all (the peer already holds that content, as
/// after a rename), as a delta from a version of the article the peer holds, or whole.
public enum BlobPlan: Sendable {
    case held
    case delta(BlobDelta)
    case whole(StoredBlob)
}

extension ArticleLog {
    /// The cheapest way to give `peer` the content of `entry`, judged by what the peer's version
    /// vector shows it holds (every entry it holds came with its blob). Nil for a delete.
    ///
    /// A delta is offered against the versions the entry replaces, and used when it is at most
    /// three quarters of the stored blob and fits one frame: an append or a changed sentence costs
    /// bytes in the hundreds instead of the article's compressed size.
    public func plan(contentOf entry: LogEntry, for peer: VersionVector, deltas: Bool,
                     maximumDeltaBytes: Int = WireCodec.blobPartLength) throws -> BlobPlan? {
        guard let hash = entry.contentHash else { return nil }
        var held = false
        try db.statement("SELECT origin, origin_seq FROM entries WHERE content_hash = ? AND fork_seq IS NULL").query([.blob(hash.bytes)]) { row in
            if !held, let origin = SiteID(row.text(0)), peer[origin] >= row.uint64(1) { held = true }
        }
        if held { return .held }
        guard let blob = try storedBlob(hash) else { return nil }
        guard deltas, blob.data.count >= 256, blob.size <= WireCodec.maximumDeltaBytes else { return .whole(blob) }
        var bytes: [UInt8]?
        for replaced in entry.replaces {
            guard let base = try self.entry(version: replaced), let baseHash = base.contentHash, baseHash != hash,
                  base.size <= WireCodec.maximumDeltaBytes, peer[base.origin] >= base.sequence,
                  try version(origin: base.origin, sequence: base.sequence) == base.version,
                  let baseBytes = try self.blob(baseHash) else { continue }
            let content = try bytes ?? BlobCodec.decode(blob.data, encoding: blob.encoding, size: Int(blob.size))
            bytes = content
            // One frame carries a delta; a change too large for one goes whole, in parts.
            if let frame = compressor.delta(content, from: baseBytes), frame.count * 4 <= blob.data.count * 3,
               frame.count <= maximumDeltaBytes {
                return .delta(BlobDelta(hash: hash, size: blob.size, base: baseHash, bytes: frame))
            }
        }
        return .whole(blob)
    }
}
