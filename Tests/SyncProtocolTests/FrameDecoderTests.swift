import Testing
@testable import SyncProtocol

@Suite struct FrameDecoderTests {
    @Test func framesDrippedOneByteAtATimeComeOutWhole() throws {
        let frames: [[UInt8]] = [[1, 2, 3], [], Array(repeating: 7, count: 300)]
        let stream = frames.flatMap(FrameDecoder.frame)
        var decoder = FrameDecoder(maximumFrameLength: 1024)
        var out: [[UInt8]] = []
        for byte in stream {
            decoder.append([byte])
            while let frame = try decoder.nextFrame() { out.append(frame) }
        }
        #expect(out == frames)
        #expect(decoder.bufferedCount == 0)
    }

    @Test func manyFramesInOneBufferAllComeOut() throws {
        let frames = (0..<50).map { Array(repeating: UInt8($0), count: $0) }
        var decoder = FrameDecoder(maximumFrameLength: 1024)
        decoder.append(frames.flatMap(FrameDecoder.frame))
        var out: [[UInt8]] = []
        while let frame = try decoder.nextFrame() { out.append(frame) }
        #expect(out == frames)
    }

    @Test func truncatedFrameWaitsForMore() throws {
        var decoder = FrameDecoder(maximumFrameLength: 1024)
        decoder.append(FrameDecoder.frame([1, 2, 3, 4]).dropLast())
        #expect(try decoder.nextFrame() == nil)
        decoder.append([4])
        #expect(try decoder.nextFrame() == [1, 2, 3, 4])
    }

    @Test func fourGigabyteLengthIsRefusedBeforeAnyBodyArrives() {
        var decoder = FrameDecoder(maximumFrameLength: 1 << 20)
        decoder.append([0xff, 0xff, 0xff, 0xff])
        #expect(throws: FrameDecoder.FrameError.tooLarge(declared: .max, limit: 1 << 20)) { try decoder.nextFrame() }
    }
}

@Suite struct ByteReaderTests {
    @Test func readsWhatTheWriterWrote() throws {
        var w = ByteWriter()
        w.write(UInt8(9)); w.write(UInt16(0x1234)); w.write(UInt32(0xdeadbeef)); w.write(UInt64.max - 1)
        w.write(string: "Đà Nẵng")
        var r = ByteReader(w.bytes)
        #expect(try r.readUInt8() == 9)
        #expect(try r.readUInt16() == 0x1234)
        #expect(try r.readUInt32() == 0xdeadbeef)
        #expect(try r.readUInt64() == .max - 1)
        #expect(try r.readString() == "Đà Nẵng")
        #expect(r.isAtEnd)
    }

    @Test func lengthLargerThanWhatIsLeftIsTruncatedNotATrap() {
        var w = ByteWriter()
        w.write(UInt32(1_000_000))
        w.write(raw: [1, 2, 3])
        var r = ByteReader(w.bytes)
        #expect(throws: ByteReader.ReadError.truncated(needed: 1_000_000, remaining: 3)) { try r.readLengthPrefixed() }
    }

    @Test func invalidUTF8IsReported() {
        var w = ByteWriter()
        w.write(lengthPrefixed: [0xc3, 0x28])
        var r = ByteReader(w.bytes)
        #expect(throws: ByteReader.ReadError.invalidUTF8) { try r.readString() }
    }
}
