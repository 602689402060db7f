/// ANSI colour when writing to a terminal; plain text otherwise (pipes, files, `--json`).
public struct TerminalStyle: Sendable {
    public enum Color: String, Sendable {
        case red = "31", green = "32", cyan = "36", yellow = "33"
    }

    public let enabled: Bool

    public static let plain = TerminalStyle(enabled: false)
    public static let colored = TerminalStyle(enabled: true)

    public init(enabled: Bool) { self.enabled = enabled }

    public func color(_ color: Color, _ text: String) -> String {
        enabled ? "\u{1B}[\(color.rawValue)m\(text)\u{1B}[0m" : text
    }

    public func bold(_ text: String) -> String { enabled ? "\u{1B}[1m\(text)\u{1B}[0m" : text }
    public func cyan(_ text: String) -> String { color(.cyan, text) }

    public func removedWords(_ text: String) -> String {
        enabled ? "\u{1B}[31;9m\(text)\u{1B}[0m" : "[-\(text)-]"
    }

    public func addedWords(_ text: String) -> String {
        enabled ? "\u{1B}[32;4m\(text)\u{1B}[0m" : "{+\(text)+}"
    }
}
