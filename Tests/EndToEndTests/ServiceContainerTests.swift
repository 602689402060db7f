import Foundation
import Testing
import TestSupport

/// The README's "Run it as a service" section on a booted systemd: `scripts/service_test.py` makes
/// (or reuses) a Debian 12 root, boots it with systemd-nspawn, runs each line of the section and
/// checks the service as administrators and editors use it. Needs root, systemd-nspawn and
/// mmdebstrap (`.ci/run` installs them); NEWSD_SKIP_CONTAINER_TEST=1 skips it where they cannot be had.
@Suite(.serialized) struct ServiceContainerTests {
    var repository: String { URL(fileURLWithPath: Seeds.folder).deletingLastPathComponent().path }

    @Test(.timeLimit(.minutes(30)),
          .enabled(if: ProcessInfo.processInfo.environment["NEWSD_SKIP_CONTAINER_TEST"] == nil))
    func theReadmesServiceSectionWorksOnABootedSystemd() async throws {
        try await offThePool {
            let result = try run("/usr/bin/env", ["python3", repository + "/scripts/service_test.py"], timeout: .seconds(1500))
            print(result.stdout)
            #expect(result.status == 0, "\(result.stdout.suffix(6000))\(result.stderr.suffix(3000))")
            #expect(result.stdout.contains("steps passed"))
        }
    }
}
