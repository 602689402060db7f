import Foundation
import Store
import SyncProtocol

/// Reads, hashes and compresses the files of a large ingest on a second core while the store
/// thread signs and commits what was read before. The files come back in the order given; at most
/// `maximumFiles` or `maximumBytes` of them wait read, so a slow disk or a fast one holds memory
/// bounded. A few files (an editor's save) are read on the caller's thread: a thread costs more
/// than it saves there.
final class FileReadAhead: @unchecked Sendable {
    enum Outcome {
        /// The file's bytes, their hash, and the form the blob table keeps them in.
        case read(FileSystem.Snapshot, ContentHash, StoredBlob)
        case tooLarge(Int)
        case unreadable(any Error)
    }

    static let threadFrom = 16
    let maximumFiles = 64
    let maximumBytes = 8 << 20

    private let files: [ScannedFile]
    private let prepare: (ScannedFile, BlobCodec.Compressor) -> Outcome
    private let condition = NSCondition()
    // Guarded by `condition`.
    private var ready: [(ScannedFile, Outcome)] = []
    private var readyIndex = 0
    private var readyBytes = 0
    private var finished = false
    private var cancelled = false
    // The caller's side when no thread runs.
    private var inlineIndex = 0
    private let inlineCompressor: BlobCodec.Compressor?

    init(files: [ScannedFile], maximumFileBytes: Int64, absolute: @escaping @Sendable (String) -> String) {
        self.files = files
        self.prepare = { file, compressor in
            let snapshot: FileSystem.Snapshot
            do { snapshot = try FileSystem.readConsistently(absolute(file.path), limit: maximumFileBytes) } catch {
                // Grown past the limit since the walk: refused before it is held whole in memory.
                if let tooLarge = error as? FileSystem.FileTooLarge { return .tooLarge(Int(tooLarge.size)) }
                return .unreadable(error)
            }
            let hash = ContentHash.of(snapshot.bytes)
            let (encoding, data) = compressor.encode(snapshot.bytes)
            return .read(snapshot, hash, StoredBlob(hash: hash, size: UInt64(snapshot.bytes.count), encoding: encoding, data: data))
        }
        if files.count < Self.threadFrom {
            inlineCompressor = BlobCodec.Compressor()
        } else {
            inlineCompressor = nil
            let thread = Thread { [self] in produce() }
            thread.name = "newsd-read-ahead"
            thread.start()
        }
    }

    deinit { cancel() }

    /// The next file and what reading it gave, in order; nil after the last.
    func next() -> (ScannedFile, Outcome)? {
        condition.lock()
        defer { condition.unlock() }
        if let inlineCompressor {
            guard !cancelled, inlineIndex < files.count else { return nil }
            defer { inlineIndex += 1 }
            return (files[inlineIndex], prepare(files[inlineIndex], inlineCompressor))
        }
        while readyIndex == ready.count && !finished && !cancelled { condition.wait() }
        guard !cancelled, readyIndex < ready.count else { return nil }
        let item = ready[readyIndex]
        ready[readyIndex] = (item.0, .tooLarge(0))  // drop the bytes: the caller has them now
        readyIndex += 1
        readyBytes -= Self.weight(item.1)
        // Drop what was taken, so the queue holds at most what waits (a reader always ahead
        // never lets it empty).
        if readyIndex == ready.count || readyIndex >= maximumFiles {
            ready.removeFirst(readyIndex)
            readyIndex = 0
        }
        condition.broadcast()
        return item
    }

    /// Stops the reading thread (the caller gave up: a full disk, an error); what it read is dropped.
    func cancel() {
        condition.lock()
        cancelled = true
        ready.removeAll()
        readyIndex = 0
        readyBytes = 0
        condition.broadcast()
        condition.unlock()
    }

    private func produce() {
        let compressor = BlobCodec.Compressor()
        for file in files {
            condition.lock()
            let stop = cancelled
            condition.unlock()
            if stop { break }
            let outcome = prepare(file, compressor)
            let weight = Self.weight(outcome)
            condition.lock()
            while !cancelled && ready.count - readyIndex > 0
                    && (ready.count - readyIndex >= maximumFiles || readyBytes + weight > maximumBytes) {
                condition.wait()
            }
            if !cancelled {
                ready.append((file, outcome))
                readyBytes += weight
                condition.broadcast()
            }
            condition.unlock()
        }
        condition.lock()
        finished = true
        condition.broadcast()
        condition.unlock()
    }

    private static func weight(_ outcome: Outcome) -> Int {
        if case .read(let snapshot, _, let stored) = outcome { return snapshot.bytes.count + stored.data.count }
        return 0
    }
}
