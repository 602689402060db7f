import SyncProtocol

/// libFuzzer's entry, which `-sanitize=fuzzer` links in.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32

/// Feeds every input to the frame splitter and the message decoder: they may refuse it, never crash.
/// A decoded message, encoded again, must decode to the same message.
@_cdecl("FuzzWire_main")
func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments) { data, size in
        let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
        if let message = try? WireCodec.decode(bytes) {
            precondition((try? WireCodec.decode(WireCodec.encode(message))) == message, "encode/decode round trip changed \(message.kind)")
        }
        var frames = FrameDecoder(maximumFrameLength: 1 << 16)
        frames.append(bytes)
        while let frame = try? frames.nextFrame() { _ = try? WireCodec.decode(frame) }
        return 0
    }
}
