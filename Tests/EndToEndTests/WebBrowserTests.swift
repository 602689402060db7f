import Foundation
import Testing
import TestSupport

/// The web view in headless Chromium, driven by Selenium (`Tests/Browser/web_view_browser_test.py`,
/// which starts and stops its own newsd processes). `.ci/run` installs Chromium, its driver and
/// Selenium; screenshots of each page go to `.build/web-screenshots`.
@Suite(.serialized) struct WebBrowserTests {
    static var browserAvailable: Bool {
        FileManager.default.isExecutableFile(atPath: "/usr/bin/chromium") && FileManager.default.isExecutableFile(atPath: "/usr/bin/chromedriver")
            && (try? run("/usr/bin/env", ["python3", "-c", "import selenium"]))?.status == 0
    }

    @Test(.enabled(if: browserAvailable, "needs chromium, chromium-driver and selenium (.ci/run installs them)"))
    func theWebViewWorksInARealBrowser() async throws {
        try await offThePool {
            let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            let script = root.appendingPathComponent("Tests/Browser/web_view_browser_test.py").path
            let shots = root.appendingPathComponent(".build/web-screenshots").path
            let result = try run("/usr/bin/env", ["python3", script, "--bin", Binaries.directory, "--out", shots], timeout: .seconds(300))
            print(result.stdout)
            #expect(result.status == 0, "\(result.stdout)\n\(result.stderr.suffix(3000))")
            #expect(result.stdout.contains(" passed, 0 failed"))
        }
    }
}
