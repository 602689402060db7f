import Foundation
import Testing
@testable import SyncProtocol

/// Replays every input kept in `fuzz/corpus/`: the seeds libFuzzer starts from, and any input it
/// ever found crashing (saved there with the fix), so a regression fails `swift test`, not a fuzz run.
@Suite struct FuzzCorpusTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../fuzz/corpus").standardized

    static func inputs(_ folder: String) throws -> [(String, [UInt8])] {
        let directory = corpus.appendingPathComponent(folder)
        return try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted().map {
            ($0, Array(try Data(contentsOf: directory.appendingPathComponent($0))))
        }
    }

    @Test func wireInputsDecodeOrFailCleanlyAndRoundTrip() throws {
        let inputs = try Self.inputs("wire")
        #expect(!inputs.isEmpty)
        for (name, bytes) in inputs {
            if let message = try? WireCodec.decode(bytes) {
                #expect(try WireCodec.decode(WireCodec.encode(message)) == message, "\(name)")
            }
            var frames = FrameDecoder(maximumFrameLength: 1 << 16)
            frames.append(bytes)
            while let frame = try? frames.nextFrame() { _ = try? WireCodec.decode(frame) }
        }
    }

    @Test func controlInputsDecodeOrFailCleanly() throws {
        let inputs = try Self.inputs("control")
        #expect(!inputs.isEmpty)
        let decoder = ControlJSON.decoder()
        for (name, bytes) in inputs {
            let data = Data(bytes)
            let method = try? decoder.decode(RequestMethod.self, from: data)
            _ = try? decoder.decode(RequestEnvelope<ShowRequest>.self, from: data)
            _ = try? decoder.decode(RequestEnvelope<LogRequest>.self, from: data)
            _ = try? decoder.decode(RequestEnvelope<RestoreRequest>.self, from: data)
            _ = try? decoder.decode(RequestEnvelope<ResolveRequest>.self, from: data)
            if name.hasSuffix(".json") { #expect(method != nil, "seed \(name) is a well-formed request") }
        }
    }
}
