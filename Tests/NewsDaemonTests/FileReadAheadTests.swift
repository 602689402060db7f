import Foundation
import Testing
import TestSupport
@testable import NewsDaemon
import Store
import SyncProtocol

/// The read-ahead of a large ingest gives back exactly what reading the files one by one gives, in
/// the same order, whatever the mix of sizes, unreadable and oversized files; and the caller can
/// stop it at any point without waiting for the rest of the folder.
struct FileReadAheadTests {
    let folder = TemporaryFolder("read-ahead")

    func scanned(_ names: [String]) throws -> [ScannedFile] {
        try names.map { ScannedFile(path: $0, article: try ArticlePath($0), stat: try FileSystem.lstat(folder.sub($0))) }
    }

    @Test(arguments: [0, 1, 15, 16, 17, 200])
    func everyFileComesBackInOrderAsReadingItAloneGives(count: Int) throws {
        var generator = SystemRandomNumberGenerator()
        var names: [String] = []
        for index in 0..<count {
            let name = "bai-\(index).txt"
            // Sizes from empty to past the limit, and past the read-ahead's byte bound together.
            let size = [0, 10, 700, 40_000, 300_000][Int.random(in: 0..<5, using: &generator)]
            _ = folder.write(name, String(repeating: "Hà Nội \(index) ", count: size / 12 + 1).prefix(size).description)
            names.append(name)
        }
        var files = try scanned(names)
        if count > 2 { files.insert(ScannedFile(path: "gone.txt", article: try ArticlePath("gone.txt"), stat: files[0].stat), at: 2) }
        let root = folder.path
        let reader = FileReadAhead(files: files, maximumFileBytes: 200_000, absolute: { root + "/" + $0 })
        var seen: [String] = []
        while let (file, outcome) = reader.next() {
            seen.append(file.path)
            let alone = try? FileSystem.readConsistently(folder.sub(file.path)).bytes
            switch outcome {
            case .read(let snapshot, let hash, let stored):
                #expect(snapshot.bytes == alone)
                #expect(hash == ContentHash.of(snapshot.bytes))
                #expect(stored.hash == hash && stored.size == UInt64(snapshot.bytes.count))
                #expect(try BlobCodec.decode(stored.data, encoding: stored.encoding, size: Int(stored.size)) == snapshot.bytes)
            case .tooLarge(let size):
                #expect(size > 200_000 && alone.map { $0.count >= size } == true)
            case .unreadable:
                #expect(file.path == "gone.txt" && alone == nil)
            }
        }
        #expect(seen == files.map(\.path))
    }

    @Test func stoppingEarlyEndsTheReadingWithoutReadingTheRest() throws {
        let names = (0..<500).map { "tin-\($0).txt" }
        for name in names { _ = folder.write(name, String(repeating: "Đà Nẵng ", count: 2_000)) }
        let root = folder.path
        let reader = FileReadAhead(files: try scanned(names), maximumFileBytes: 1 << 20, absolute: { root + "/" + $0 })
        for _ in 0..<3 { #expect(reader.next() != nil) }
        reader.cancel()
        #expect(reader.next()?.0.path == nil, "nothing more after a stop")
    }
}
