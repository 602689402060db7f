import Foundation
import Glibc

/// The process figures Prometheus' own clients publish (`process_cpu_seconds_total`,
/// `process_resident_memory_bytes`, ...), read from /proc at each scrape. No maintained Swift
/// package that resolves here provides them (swift-metrics-extras' SystemMetrics is not among
/// the packages this project may use), so they are read as the Go and Python clients read them.
struct ProcessMetrics: Equatable {
    var cpuSeconds: Double
    var residentBytes: Int64
    var virtualBytes: Int64
    /// Nil when /proc/self/fd cannot be read (out of descriptors, say): left out, not shown as 0.
    var openDescriptors: Int?
    var maximumDescriptors: Int64
    var startTimeSeconds: Double

    static func read() -> ProcessMetrics? {
        guard let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8) else { return nil }
        let bootTime = (try? String(contentsOfFile: "/proc/stat", encoding: .utf8)).flatMap(Self.bootTime(from:))
        // Less the descriptor the listing itself holds open.
        let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count).map { max(0, $0 - 1) }
        var limit = rlimit()
        let maximum = getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 ? Int64(clamping: limit.rlim_cur) : -1
        return parse(stat: stat, bootTime: bootTime ?? 0, ticksPerSecond: Double(sysconf(Int32(_SC_CLK_TCK))),
                     pageSize: Int64(sysconf(Int32(_SC_PAGESIZE))), openDescriptors: descriptors, maximumDescriptors: maximum)
    }

    /// `/proc/self/stat`: the command name is in parentheses and may hold spaces and parentheses
    /// itself, so fields are counted from the last ')'. Field numbers as in proc(5).
    static func parse(stat: String, bootTime: Double, ticksPerSecond: Double, pageSize: Int64,
                      openDescriptors: Int?, maximumDescriptors: Int64) -> ProcessMetrics? {
        guard let close = stat.lastIndex(of: ")"), ticksPerSecond > 0 else { return nil }
        // After ')' comes field 3 (state).
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        func field(_ number: Int) -> Double? { number - 3 < fields.count ? Double(fields[number - 3]) : nil }
        guard let user = field(14), let system = field(15), let start = field(22), let virtual = field(23), let resident = field(24) else { return nil }
        return ProcessMetrics(cpuSeconds: (user + system) / ticksPerSecond, residentBytes: Int64(resident) * pageSize,
                              virtualBytes: Int64(virtual), openDescriptors: openDescriptors, maximumDescriptors: maximumDescriptors,
                              startTimeSeconds: bootTime + start / ticksPerSecond)
    }

    static func bootTime(from procStat: String) -> Double? {
        procStat.split(separator: "\n").first { $0.hasPrefix("btime ") }.flatMap { Double($0.dropFirst(6).trimmingCharacters(in: .whitespaces)) }
    }
}
