import Foundation
import Glibc

/// The built `newsd` and `newsctl`, found beside the test bundle (`swift build --build-tests`
/// puts them there), or in `$NEWSD_BIN_DIR`.
public enum Binaries {
    public static var directory: String {
        if let dir = ProcessInfo.processInfo.environment["NEWSD_BIN_DIR"] { return dir }
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL
        // The test binary lives in .build/<triple>/debug/<name>.xctest (a file on Linux).
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.isExecutableFile(atPath: url.appendingPathComponent("newsd").path) { return url.path }
        }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug").path
    }

    public static var newsd: String { directory + "/newsd" }
    public static var newsctl: String { directory + "/newsctl" }
    public static var evilPeer: String { directory + "/evil-peer" }
}


/// Resident memory of a process in KiB (VmRSS), or 0 when it is gone.
public func residentKilobytes(_ pid: Int32) -> Int {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }) else { return 0 }
    return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
}

/// Reads a pipe to its end. FileHandle.readDataToEndOfFile traps when a signal interrupts the
/// read (EINTR), which the SIGCHLDs of the many children a test run starts can do.
func readToEnd(_ fd: Int32) -> Data {
    var data = Data()
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n > 0 { data.append(contentsOf: buffer[..<n]) } else if n == 0 || errno != EINTR { return data }
    }
}

/// What a finished command printed.
public struct CommandResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
}

/// Runs a command to completion with a deadline; a command still running then is killed.
@discardableResult
/// Runs a program to its end (killed after `timeout`); `whileRunning` is called about every 50 ms.
public func run(_ executable: String, _ arguments: [String], timeout: Duration = .seconds(60),
                whileRunning: () -> Void = {}) throws -> CommandResult {
    let (outRead, outWrite) = try ChildProcess.pipe()
    let (errRead, errWrite) = try ChildProcess.pipe()
    let process: ChildProcess
    do {
        defer { close(outWrite); close(errWrite) }
        process = try ChildProcess(executable, arguments, stdout: outWrite, stderr: errWrite)
    } catch {
        close(outRead); close(errRead)
        throw error
    }
    // Read both pipes while it runs, so a large output cannot fill a pipe and stall the child.
    nonisolated(unsafe) var outData = Data(), errData = Data()
    let group = DispatchGroup()
    group.enter()
    DispatchQueue.global().async { outData = readToEnd(outRead); close(outRead); group.leave() }
    group.enter()
    DispatchQueue.global().async { errData = readToEnd(errRead); close(errRead); group.leave() }
    let deadline = ContinuousClock.now + timeout
    var lastCall = ContinuousClock.now
    while process.isRunning && ContinuousClock.now < deadline {
        usleep(2_000)
        if ContinuousClock.now - lastCall >= .milliseconds(50) {
            whileRunning()
            lastCall = .now
        }
    }
    if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    process.waitUntilExit()
    group.wait()
    return CommandResult(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                         stderr: String(decoding: errData, as: UTF8.self))
}

/// A `newsd` running in the background for one test; killed when released, whatever happened.
public final class DaemonProcess: @unchecked Sendable {
    public let process: ChildProcess
    public let dataDir: String
    public let logPath: String

    /// `passWatch`: false leaves `watch` to the config file (a `--watch` flag would override it).
    /// `launcher`: a command that ends by exec'ing newsd with the arguments after it (a namespace,
    /// a limit); newsd keeps its pid.
    public init(watch: String, data: String, extra: [String] = [], environment: [String: String] = [:], passWatch: Bool = true,
                launcher: [String] = []) throws {
        dataDir = data
        logPath = data + ".newsd.log"
        let log = open(logPath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard log >= 0 else { throw TimedOut(description: "cannot open \(logPath)") }
        defer { close(log) }
        // Every daemon binds a port of its own (the kernel picks it: no port is picked early and
        // bound late) unless the test names one (or a config file does). `listeningPort` reads it.
        let ownPort = extra.contains("--listen") || extra.contains("--config") ? [] : ["--listen", "127.0.0.1:0"]
        let arguments = (passWatch ? ["--watch", watch] : []) + ["--data", data, "--log-level", "debug"] + ownPort + extra
        let command = launcher.isEmpty ? [Binaries.newsd] + arguments : launcher + [Binaries.newsd] + arguments
        process = try ChildProcess(command[0], Array(command.dropFirst()), environment: environment.isEmpty ? nil : environment, stdout: log, stderr: log)
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    public var pid: Int32 { process.processIdentifier }
    public var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    public func kill9() {
        kill(pid, SIGKILL)
        process.waitUntilExit()
    }

    /// Sends SIGTERM and waits for the exit; returns the exit status. The wait is the unit's
    /// TimeoutStopSec (20 s): a stop past it is one systemd would kill. (10 s was crossed under a
    /// full run's load on 2 cores; `StopTests` holds the quick stop to under 5 s.)
    public func terminate(timeout: Duration = .seconds(20)) -> Int32 {
        kill(pid, SIGTERM)
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline { usleep(5_000) }
        if process.isRunning { kill9() }
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// `newsctl ARGS --data DIR`.
    @discardableResult
    public func ctl(_ arguments: [String]) throws -> CommandResult {
        try run(Binaries.newsctl, arguments + ["--data", dataDir])
    }

    /// The replication port the daemon bound, as `status` reports it.
    public var listeningPort: Int? {
        guard let result = try? ctl(["status", "--json"]), result.status == 0,
              let status = try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any],
              let address = status["listening"] as? String, let colon = address.lastIndex(of: ":") else { return nil }
        return Int(address[address.index(after: colon)...])
    }

    /// Waits until `status --json` answers with `"ready": true`.
    public func waitUntilReady(timeout: Duration = .seconds(30)) throws {
        try waitUntil(timeout: timeout, "newsd ready; its log:\n\(log)") {
            guard process.isRunning else { return false }
            return (try? ctl(["status", "--json"]))?.stdout.contains(#""ready" : true"#) == true
        }
    }
}

public struct TimedOut: Error, CustomStringConvertible {
    public let description: String
    public init(description: String) { self.description = description }
}

/// Polls `condition` every 20 ms until it holds or `timeout` passes.
public func waitUntil(timeout: Duration = .seconds(10), _ what: @autoclosure () -> String = "condition", _ condition: () throws -> Bool) throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try condition() { return }
        usleep(20_000)
    }
    throw TimedOut(description: "timed out waiting for \(what())")
}

/// A TCP port free on 127.0.0.1 right now (bound to port 0, read, closed).
public func freePort() -> Int {
    let (fd, port) = boundSocket(listening: false)
    close(fd)
    return port
}

/// A TCP socket bound to a free port on 127.0.0.1, listening unless asked not to: a port some
/// other program holds, or a peer that accepts and never answers. The caller closes it.
public func boundSocket(listening: Bool = true) -> (fd: Int32, port: Int) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
    if listening { listen(fd, 16) }
    return (fd, Int(UInt16(bigEndian: address.sin_port)))
}

/// One site of a multi-site test: its folders, identity and port, made before any daemon starts.
public struct TestSite: Sendable {
    public let name: String
    public let watch: String
    public let data: String
    public let port: Int
    public let id: String

    public init(_ name: String, in folder: TemporaryFolder) throws {
        self.name = name
        watch = folder.sub("\(name)/watch")
        data = folder.sub("\(name)/data")
        port = freePort()
        try FileManager.default.createDirectory(atPath: watch, withIntermediateDirectories: true)
        let initialized = try run(Binaries.newsd, ["init", "--data", data])
        id = initialized.stdout.split(separator: "\n").last.map(String.init) ?? ""
    }

    public var address: String { "\(id)@127.0.0.1:\(port)" }

    /// This site reached through a relay listening on `port` (a `FaultProxy`).
    public func address(via port: Int) -> String { "\(id)@127.0.0.1:\(port)" }

    /// Starts newsd for this site, peered with `peers` (dialled) and `acceptOnly` (accepted only).
    public func start(peers: [TestSite], acceptOnly: [TestSite] = [], environment: [String: String] = [:]) throws -> DaemonProcess {
        try start(dialing: peers.map(\.address), acceptOnly: acceptOnly, environment: environment)
    }

    /// Starts newsd for this site, dialling the peer addresses given (`ID@host:port`).
    public func start(dialing addresses: [String], acceptOnly: [TestSite] = [], environment: [String: String] = [:]) throws -> DaemonProcess {
        let flags = ["--listen", "127.0.0.1:\(port)", "--site-name", name]
            + addresses.flatMap { ["--peer", $0] } + acceptOnly.flatMap { ["--peer", $0.id] }
        return try DaemonProcess(watch: watch, data: data, extra: flags, environment: environment)
    }

    /// Every file under the watched folder and its bytes, for comparing sites.
    public func snapshot() -> [String: Data] {
        var files: [String: Data] = [:]
        let base = URL(fileURLWithPath: watch)
        guard let walker = FileManager.default.enumerator(atPath: watch) else { return files }
        while let relative = walker.nextObject() as? String {
            // newsd's own marker (`.newsd-site`) is the site's, not an article.
            if relative == ".newsd-site" { continue }
            let url = base.appendingPathComponent(relative)
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), !isDirectory.boolValue {
                files[relative] = try? Data(contentsOf: url)
            }
        }
        return files
    }
}

/// A datagram socket standing in for systemd's `$NOTIFY_SOCKET`: collects what newsd sends.
public final class NotifySocket: @unchecked Sendable {
    public let path: String
    private let fd: Int32

    public init(path: String) {
        self.path = path
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.utf8.enumerated() { raw[index] = byte }
        }
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        var timeout = timeval(tv_sec: 0, tv_usec: 50_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit {
        close(fd)
        unlink(path)
    }

    /// Every datagram that arrived since the last call.
    public func drain() -> [String] {
        var messages: [String] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            messages.append(String(decoding: buffer[0..<n], as: UTF8.self))
        }
        return messages
    }
}

/// `GET path` over plain HTTP on loopback; the response body.
public func httpGet(port: Int, path: String) throws -> String { try httpExchange(port: port, path: path).body }

/// Reads from `fd` until the other end closes, the socket's receive timeout passes, or `complete`
/// says what has arrived is whole.
public func receive(_ fd: Int32, until complete: ([UInt8]) -> Bool = { _ in false }) -> [UInt8] {
    var response: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while !complete(response) {
        let n = recv(fd, &buffer, buffer.count, 0)
        if n <= 0 { break }
        response += buffer[0..<n]
    }
    return response
}

/// Runs a blocking test body (processes, polling, sleeps) on a thread of its own and waits for
/// it without holding one of Swift's pool threads: there are two on a two-core machine, and the
/// end-to-end tests, each blocking for seconds, would otherwise starve every async test in the
/// same process. The body stays in the test's task (an executor preference, not a new thread),
/// so its expectations are the test's.
public func offThePool<T>(_ body: () throws -> T) async throws -> T {
    let executor = BlockingExecutor()
    defer { executor.stop() }
    return try await withTaskExecutorPreference(executor) { try body() }
}

/// A task executor with a thread of its own (an 8 MiB stack, as a main thread has: Foundation's
/// `Process.run` overran a dispatch worker's smaller one): it may block as long as it likes
/// without taking one from Swift's cooperative pool.
private final class BlockingExecutor: TaskExecutor, @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var stopped = false

    init() {
        let thread = Thread { [self] in run() }
        thread.stackSize = 8 << 20
        thread.start()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.withLock {
            jobs.append(job)
            condition.signal()
        }
    }

    func stop() {
        condition.withLock {
            stopped = true
            condition.signal()
        }
    }

    private func run() {
        while true {
            condition.lock()
            while jobs.isEmpty && !stopped { condition.wait() }
            if jobs.isEmpty {
                condition.unlock()
                return
            }
            let job = jobs.removeFirst()
            condition.unlock()
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}

/// One HTTP/1.1 exchange on loopback: status, headers (lower-cased names), body.
public struct HTTPReply: Sendable {
    public var status: Int
    public var headers: [(String, String)]
    public var body: String

    public func header(_ name: String) -> String? { headers.first { $0.0 == name.lowercased() }?.1 }
    /// `name=value` of a Set-Cookie header, for the next request's Cookie header.
    public func cookie(_ name: String) -> String? {
        headers.filter { $0.0 == "set-cookie" }.map(\.1).compactMap { line in
            line.split(separator: ";").first.map(String.init).flatMap { $0.hasPrefix(name + "=") ? $0 : nil }
        }.first
    }
}

/// Sends one request and reads the whole reply (the connection is closed after it).
public func httpExchange(port: Int, method: String = "GET", path: String, headers: [String: String] = [:], body: String? = nil) throws -> HTTPReply {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var timeout = timeval(tv_sec: 20, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = UInt16(port).bigEndian
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else { throw TimedOut(description: "cannot connect to 127.0.0.1:\(port)") }
    var text = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
    for (name, value) in headers { text += "\(name): \(value)\r\n" }
    let bodyBytes = Array((body ?? "").utf8)
    if body != nil { text += "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: \(bodyBytes.count)\r\n" }
    let request = Array((text + "\r\n").utf8) + bodyBytes
    _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
    let raw = String(decoding: receive(fd), as: UTF8.self)
    let parts = raw.components(separatedBy: "\r\n\r\n")
    let head = parts.first?.components(separatedBy: "\r\n") ?? []
    let status = head.first.flatMap { Int($0.split(separator: " ").dropFirst().first ?? "") } ?? 0
    let fields = head.dropFirst().compactMap { line -> (String, String)? in
        guard let colon = line.firstIndex(of: ":") else { return nil }
        return (line[..<colon].lowercased(), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
    }
    return HTTPReply(status: status, headers: Array(fields), body: parts.dropFirst().joined(separator: "\r\n\r\n"))
}

/// `application/x-www-form-urlencoded`.
public func formEncoded(_ fields: [(String, String)]) -> String {
    var allowed = CharacterSet.alphanumerics
    allowed.insert(charactersIn: "-._~")
    return fields.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")" }.joined(separator: "&")
}
