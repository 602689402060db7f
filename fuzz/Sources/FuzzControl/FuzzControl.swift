import Foundation
import SyncProtocol

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32

/// Feeds every input to the control socket's request decoding as newsd does it: the method first,
/// then the params of each request type. Refusals are fine; crashes are not.
@_cdecl("FuzzControl_main")
func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments) { data, size in
        let bytes = Data(data.map { UnsafeBufferPointer(start: $0, count: size) } ?? UnsafeBufferPointer(start: nil, count: 0))
        let decoder = ControlJSON.decoder()
        _ = try? decoder.decode(RequestMethod.self, from: bytes)
        _ = try? decoder.decode(RequestEnvelope<ShowRequest>.self, from: bytes)
        _ = try? decoder.decode(RequestEnvelope<LogRequest>.self, from: bytes)
        _ = try? decoder.decode(RequestEnvelope<RestoreRequest>.self, from: bytes)
        _ = try? decoder.decode(RequestEnvelope<ResolveRequest>.self, from: bytes)
        var frames = FrameDecoder(maximumFrameLength: ControlLimits.maximumRequestBytes)
        frames.append(bytes)
        while let frame = try? frames.nextFrame() { _ = try? decoder.decode(RequestMethod.self, from: Data(frame)) }
        return 0
    }
}
