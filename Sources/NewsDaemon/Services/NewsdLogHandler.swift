import Foundation
import Logging
import Synchronization

/// The level every newsd logger obeys; SIGHUP changes it without restarting.
public enum NewsdLogLevel {
    static let current = Mutex(Logger.Level.info)

    public static func set(_ level: Logger.Level) { current.withLock { $0 = level } }
    public static var level: Logger.Level { current.withLock { $0 } }
}

/// Writes one line per message to stderr: under journald (`$JOURNAL_STREAM` set) with a `<N>`
/// syslog priority prefix and no timestamp (the journal adds its own); on a terminal with time and
/// level, readable.
public struct NewsdLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public let label: String
    let journal: Bool

    public init(label: String, journal: Bool = ProcessInfo.processInfo.environment["JOURNAL_STREAM"] != nil) {
        self.label = label
        self.journal = journal
    }

    public var logLevel: Logger.Level {
        get { NewsdLogLevel.level }
        set { NewsdLogLevel.set(newValue) }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        StandardError.write(Self.format(event: event, handlerMetadata: metadata, journal: journal, now: Date()))
    }

    static func format(event: LogEvent, handlerMetadata: Logger.Metadata, journal: Bool, now: Date) -> String {
        var merged = handlerMetadata
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        let fields = merged.isEmpty ? "" : " " + merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        // One message per line: a newline inside a message would read as a second entry.
        let text = "\(event.message)".replacingOccurrences(of: "\n", with: "\\n")
        if journal { return "<\(syslogPriority(event.level))>\(text)\(fields)\n" }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss.SSS"
        return "\(formatter.string(from: now)) \(event.level.rawValue.uppercased().padding(toLength: 8, withPad: " ", startingAt: 0))\(text)\(fields)\n"
    }

    /// RFC 5424 severities, as sd-daemon(3) reads them from a `<N>` prefix.
    static func syslogPriority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }
}
