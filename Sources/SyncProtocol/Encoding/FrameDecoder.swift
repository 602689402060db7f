/// Splits a byte stream into length-prefixed frames: a 32-bit big-endian length, then that many bytes.
///
/// Fed bytes as they arrive (`append`), it hands out whole frames (`nextFrame`) and nil while it needs
/// more. A declared length over `maximumFrameLength` is refused before any of the body is buffered,
/// so a peer announcing 4 GiB costs four bytes of memory, not four gigabytes.
public struct FrameDecoder: Sendable {
    public let maximumFrameLength: Int
    private var buffer: [UInt8] = []
    private var start = 0

    public enum FrameError: Error, Equatable, Sendable, CustomStringConvertible {
        case tooLarge(declared: UInt32, limit: Int)

        public var description: String {
            switch self {
            case .tooLarge(let declared, let limit): "frame of \(declared) bytes exceeds the limit of \(limit)"
            }
        }
    }

    public init(maximumFrameLength: Int) { self.maximumFrameLength = maximumFrameLength }

    public mutating func append<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        if start > 0 && start >= buffer.count / 2 {
            buffer.removeFirst(start)
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// Bytes received but not yet returned as a frame.
    public var bufferedCount: Int { buffer.count - start }

    public mutating func nextFrame() throws(FrameError) -> [UInt8]? {
        guard bufferedCount >= 4 else { return nil }
        let length = buffer[start..<(start + 4)].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        guard Int(length) <= maximumFrameLength else { throw .tooLarge(declared: length, limit: maximumFrameLength) }
        guard bufferedCount >= 4 + Int(length) else { return nil }
        let body = Array(buffer[(start + 4)..<(start + 4 + Int(length))])
        start += 4 + Int(length)
        if start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        }
        return body
    }

    /// Prefixes `body` with its length, the inverse of `nextFrame`.
    public static func frame(_ body: [UInt8]) -> [UInt8] {
        var w = ByteWriter(capacity: body.count + 4)
        w.write(UInt32(body.count))
        w.write(raw: body)
        return w.bytes
    }
}
