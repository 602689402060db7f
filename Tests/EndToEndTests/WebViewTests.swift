import Foundation
import Testing
import TestSupport

/// The web view over real HTTP: first-run link, accounts, search, history, word diff, restore
/// with its CSRF check, roles, bad input.
@Suite(.serialized) struct WebViewTests {
    let folder = TemporaryFolder("web")

    func cookie(_ reply: HTTPReply) throws -> String { try #require(reply.cookie("newsd_session"), "no session cookie: \(reply.headers)") }

    func csrf(_ html: String) throws -> String {
        let marker = #"name="csrf" value=""#
        let start = try #require(html.range(of: marker), "no CSRF field").upperBound
        return String(html[start...].prefix(64))
    }

    @Test func anEditorSignsInFindsAnArticleReadsItsDiffAndRestoresIt() async throws {
        try await offThePool {
            let watch = folder.sub("w")
            try FileManager.default.createDirectory(atPath: watch, withIntermediateDirectories: true)
            folder.write("w/ha-noi.txt", "Tin Hà Nội\n\nĐường phố Hà Nội sáng nay đông đúc.\n")
            folder.write("w/da-nang.txt", "Tin Đà Nẵng\n\nBiển Đà Nẵng trong xanh.\n")
            let port = freePort()
            let daemon = try DaemonProcess(watch: watch, data: folder.sub("d"), extra: ["--web", "127.0.0.1:\(port)"])
            defer { _ = daemon.terminate() }
            try daemon.waitUntilReady()

            // Nothing is open without a secret; the first run prints a one-time link.
            #expect(try httpExchange(port: port, path: "/articles").status == 303)
            let line = try #require(daemon.log.split(separator: "\n").first { $0.contains("signin?token=") })
            let token = String(line[try #require(line.range(of: "token=")).upperBound...].prefix(64))
            #expect(try httpExchange(port: port, path: "/signin?token=" + String(repeating: "0", count: 64)).status == 403)
            let first = try httpExchange(port: port, path: "/signin?token=\(token)")
            #expect(first.status == 302)
            let admin = try cookie(first)
            #expect(first.header("set-cookie")?.contains("HttpOnly") == true && first.header("set-cookie")?.contains("SameSite=Strict") == true)
            #expect(try httpExchange(port: port, path: "/signin?token=\(token)").status == 403, "the link works once")

            // Accounts with newsctl; sign in with a password.
            let made = try run("/bin/sh", ["-c", "printf 'mat-khau-bien-tap\\n' | \"$0\" web-user add an --role editor --password-stdin --data \"$1\"",
                                           Binaries.newsctl, daemon.dataDir])
            #expect(made.status == 0, "\(made.stderr)")
            _ = try run("/bin/sh", ["-c", "printf 'mat-khau-nguoi-xem\\n' | \"$0\" web-user add binh --password-stdin --data \"$1\"",
                                    Binaries.newsctl, daemon.dataDir])
            #expect(try daemon.ctl(["web-user", "list"]).stdout.contains("an  editor"))
            let wrong = try httpExchange(port: port, method: "POST", path: "/signin", body: formEncoded([("name", "an"), ("password", "sai")]))
            #expect(wrong.status == 401 && wrong.cookie("newsd_session") == nil)
            let signed = try httpExchange(port: port, method: "POST", path: "/signin", body: formEncoded([("name", "an"), ("password", "mat-khau-bien-tap")]))
            let editor = try cookie(signed)
            _ = admin

            // Search without marks finds the article with them; the page is Vietnamese when asked.
            let found = try httpExchange(port: port, path: "/articles?q=ha+noi", headers: ["Cookie": editor, "Accept-Language": "vi,en;q=0.5"])
            #expect(found.status == 200)
            #expect(found.body.contains("ha-noi.txt") && !found.body.contains("da-nang.txt"))
            #expect(found.body.contains("Tin Hà Nội") && found.body.contains("Bài viết"))
            #expect(found.header("content-security-policy")?.contains("default-src 'none'") == true)

            // An edit on disk appears as a new version; the word diff marks it.
            folder.write("w/ha-noi.txt", "Tin Hà Nội\n\nĐường phố Hà Nội chiều nay vắng vẻ.\n")
            try waitUntil("the edit logged") { try daemon.ctl(["log", "ha-noi.txt", "--json"]).stdout.components(separatedBy: "\"version\"").count == 3 }
            let page = try httpExchange(port: port, path: "/article?path=ha-noi.txt", headers: ["Cookie": editor])
            #expect(page.status == 200 && page.body.contains("chiều nay vắng vẻ"))
            // Any timeline page a client names is a page (Int.min once trapped); past the end, an
            // empty one that leads back to the first.
            for vpage in ["-9223372036854775808", "9223372036854775807", "0", "abc", "7"] {
                let other = try httpExchange(port: port, path: "/article?path=ha-noi.txt&vpage=\(vpage)", headers: ["Cookie": editor])
                #expect(other.status == 200, "vpage=\(vpage)")
            }
            #expect(try httpExchange(port: port, path: "/article?path=ha-noi.txt&vpage=7", headers: ["Cookie": editor]).body.contains("vpage=1"))
            let diffLink = try #require(page.body.range(of: "/diff?path=ha-noi.txt&amp;from=")).lowerBound
            let href = String(page.body[diffLink...].prefix { $0 != "\"" }).replacingOccurrences(of: "&amp;", with: "&")
            let diff = try httpExchange(port: port, path: href, headers: ["Cookie": editor])
            #expect(diff.body.contains("<del>sáng</del>") || diff.body.contains("<del>sáng nay đông đúc</del>"), "\(diff.body)")
            #expect(diff.body.contains("<ins>chiều</ins>") || diff.body.contains("<ins>chiều nay vắng vẻ</ins>"), "\(diff.body)")

            // Restore the first version: refused without the CSRF token, done with it.
            let versions = try JSONSerialization.jsonObject(with: Data(try daemon.ctl(["log", "ha-noi.txt", "--json"]).stdout.utf8)) as? [[String: Any]] ?? []
            let old = String((versions.last?["version"] as? String ?? "").prefix(12))
            let confirm = try httpExchange(port: port, path: "/restore?path=ha-noi.txt&v=\(old)", headers: ["Cookie": editor])
            #expect(confirm.status == 200 && confirm.body.contains("<ins>"))
            let forged = try httpExchange(port: port, method: "POST", path: "/restore", headers: ["Cookie": editor],
                                          body: formEncoded([("path", "ha-noi.txt"), ("v", old)]))
            #expect(forged.status == 403)
            let restored = try httpExchange(port: port, method: "POST", path: "/restore", headers: ["Cookie": editor],
                                            body: formEncoded([("csrf", try csrf(confirm.body)), ("path", "ha-noi.txt"), ("v", old)]))
            #expect(restored.status == 302)
            try waitUntil("the old text back on disk") { folder.read("w/ha-noi.txt") == "Tin Hà Nội\n\nĐường phố Hà Nội sáng nay đông đúc.\n" }
            #expect(daemon.log.contains("restore asked by web account an"))

            // Who wrote what: the restore is the web account's, the lines it kept the first version's.
            let after = try JSONSerialization.jsonObject(with: Data(try daemon.ctl(["log", "ha-noi.txt", "--json"]).stdout.utf8)) as? [[String: Any]] ?? []
            #expect(after.first?["author"] as? String == "web:an", "\(after.first ?? [:])")
            let blame = try httpExchange(port: port, path: "/blame?path=ha-noi.txt", headers: ["Cookie": editor])
            #expect(blame.status == 200 && blame.body.contains("an (web)") && blame.body.contains("Đường phố Hà Nội sáng nay đông đúc."), "\(blame.body)")
            let blameJSON = try httpExchange(port: port, path: "/api/blame?path=ha-noi.txt", headers: ["Cookie": editor])
            #expect(blameJSON.status == 200 && blameJSON.body.contains("\"author\" : \"web:an\""), "\(blameJSON.body)")

            // A viewer reads but cannot restore.
            let viewer = try cookie(try httpExchange(port: port, method: "POST", path: "/signin",
                                                     body: formEncoded([("name", "binh"), ("password", "mat-khau-nguoi-xem")])))
            let viewerConfirm = try httpExchange(port: port, path: "/restore?path=ha-noi.txt&v=\(old)", headers: ["Cookie": viewer])
            let refused = try httpExchange(port: port, method: "POST", path: "/restore", headers: ["Cookie": viewer],
                                           body: formEncoded([("csrf", try csrf(viewerConfirm.body)), ("path", "ha-noi.txt"), ("v", old)]))
            #expect(refused.status == 403)

            // Bad input: an unknown article is a 404 page, a path out of the folder a 400.
            #expect(try httpExchange(port: port, path: "/article?path=khong-co.txt", headers: ["Cookie": viewer]).status == 404)
            #expect(try httpExchange(port: port, path: "/article?path=..%2F..%2Fetc%2Fpasswd", headers: ["Cookie": viewer]).status == 400)
            let api = try httpExchange(port: port, path: "/api/articles?q=da+nang", headers: ["Cookie": viewer])
            #expect(api.status == 200 && api.body.contains("\"article\" : \"da-nang.txt\""))
            #expect(try httpExchange(port: port, path: "/api/status").status == 401)

            // Removing an account signs its browsers out.
            #expect(try daemon.ctl(["web-user", "remove", "binh"]).status == 0)
            #expect(try httpExchange(port: port, path: "/articles", headers: ["Cookie": viewer]).status == 303)
        }
    }

    /// `curl` over HTTPS, trusting nothing but answering anyway (the certificate is made here):
    /// status, headers and body.
    func https(_ port: Int, _ path: String, headers: [String: String] = [:], form: String? = nil) throws -> (status: Int, head: String, body: String) {
        var arguments = ["-sk", "-i", "--max-time", "20", "https://127.0.0.1:\(port)\(path)"]
        for (name, value) in headers { arguments += ["-H", "\(name): \(value)"] }
        if let form { arguments += ["--data-raw", form] }
        let reply = try run("/usr/bin/env", ["curl"] + arguments)
        let parts = reply.stdout.components(separatedBy: "\r\n\r\n")
        let head = parts.first ?? ""
        let status = head.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        return (status, head, parts.dropFirst().joined(separator: "\r\n\r\n"))
    }

    /// newsd serving HTTPS itself (`web_tls_cert`, `web_tls_key`): Secure cookies, nothing on plain
    /// HTTP. A reverse proxy's account header (`web_trusted_proxy`): believed from the proxy's
    /// address for accounts this site has, with the role they have here and a form token on every
    /// change; an unknown account is refused; from any other address the header means nothing.
    @Test func overHTTPSAndBehindATrustedProxy() async throws {
        try await offThePool {
            let tls = folder.sub("tls")
            try FileManager.default.createDirectory(atPath: tls, withIntermediateDirectories: true)
            let made = try run("/usr/bin/env", ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                                                "-subj", "/CN=localhost", "-days", "2", "-keyout", tls + "/key.pem", "-out", tls + "/cert.pem"])
            #expect(made.status == 0, "\(made.stderr)")
            let watch = folder.sub("pw")
            try FileManager.default.createDirectory(atPath: watch, withIntermediateDirectories: true)
            folder.write("pw/ha-noi.txt", "Tin Hà Nội\n\nĐường phố Hà Nội sáng nay đông đúc.\n")
            let secret = String(repeating: "5e", count: 20)
            folder.write("tls/proxy.secret", secret + "\n")
            #expect(chmod(tls + "/proxy.secret", 0o600) == 0)
            func start(proxy: String) throws -> (DaemonProcess, Int) {
                let port = freePort()
                folder.write("web-\(proxy).toml", """
                    listen = "127.0.0.1:0"
                    web_listen = "127.0.0.1:\(port)"
                    web_tls_cert = "\(tls)/cert.pem"
                    web_tls_key = "\(tls)/key.pem"
                    web_trusted_proxy = ["\(proxy)"]
                    web_proxy_user_header = "X-Remote-User"
                    web_proxy_secret_file = "\(tls)/proxy.secret"

                    """)
                let daemon = try DaemonProcess(watch: watch, data: folder.sub("pd"), extra: ["--config", folder.sub("web-\(proxy).toml")])
                try daemon.waitUntilReady()
                return (daemon, port)
            }

            func proxied(_ name: String, secret: String = secret) -> [String: String] {
                ["X-Remote-User": name, "X-Newsd-Proxy-Secret": secret]
            }
            var (daemon, port) = try start(proxy: "127.0.0.1")
            defer { _ = daemon.terminate() }
            let line = try #require(daemon.log.split(separator: "\n").first { $0.contains("signin?token=") })
            #expect(line.contains("https://127.0.0.1:\(port)/"))
            let token = String(line[try #require(line.range(of: "token=")).upperBound...].prefix(64))
            // Plain HTTP on the HTTPS port is not served.
            #expect((try? httpExchange(port: port, path: "/articles"))?.status ?? 0 == 0)
            let first = try https(port, "/signin?token=\(token)")
            #expect(first.status == 302)
            let setCookie = first.head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("set-cookie: newsd_session=") } ?? ""
            #expect(setCookie.contains("Secure") && setCookie.contains("HttpOnly") && setCookie.contains("SameSite=Strict"), "\(first.head)")

            for (name, role) in [("an", "editor"), ("binh", "viewer")] {
                let added = try run("/bin/sh", ["-c", "printf 'mat-khau-dai-du\\n' | \"$0\" web-user add \"$1\" --role \"$2\" --password-stdin --data \"$3\"",
                                                Binaries.newsctl, name, role, daemon.dataDir])
                #expect(added.status == 0, "\(added.stderr)")
            }
            // The proxy names an editor: pages without any cookie or password.
            let page = try https(port, "/article?path=ha-noi.txt", headers: proxied("an"))
            #expect(page.status == 200 && page.body.contains("Đường phố Hà Nội") && page.body.contains("an"), "\(page.head)")
            let versions = try https(port, "/api/article?path=ha-noi.txt", headers: proxied("an"))
            let head = try #require(versions.body.range(of: #""version" : ""#).map { String(versions.body[$0.upperBound...].prefix(12)) })
            // A change needs the form token of the page; with it the restore is made, as the proxy's account.
            let form = try csrf(page.body)
            #expect(try https(port, "/restore", headers: proxied("an"), form: formEncoded([("path", "ha-noi.txt"), ("v", head)])).status == 403)
            let restored = try https(port, "/restore", headers: proxied("an"), form: formEncoded([("path", "ha-noi.txt"), ("v", head), ("csrf", form)]))
            #expect(restored.status == 302, "\(restored.head)\n\(restored.body)")
            #expect(daemon.log.contains("web: an restored ha-noi.txt"))
            // A viewer named by the proxy may read, not change; an account this site lacks is refused.
            let viewerPage = try https(port, "/article?path=ha-noi.txt", headers: proxied("binh"))
            #expect(viewerPage.status == 200)
            let viewerForm = try csrf(viewerPage.body)
            #expect(try https(port, "/restore", headers: proxied("binh"),
                              form: formEncoded([("path", "ha-noi.txt"), ("v", head), ("csrf", viewerForm)])).status == 403)
            // Without the proxy's secret, or with a wrong one, the header means nothing: any program
            // on the proxy's machine can reach newsd from its address.
            #expect(try https(port, "/articles", headers: ["X-Remote-User": "an"]).status == 303)
            #expect(try https(port, "/articles", headers: proxied("an", secret: String(repeating: "5f", count: 20))).status == 303)
            // A name that is not an account name (cut or look-alike) is refused, not matched.
            #expect(try https(port, "/articles", headers: proxied("\u{212A}an")).status == 403)
            let stranger = try https(port, "/articles", headers: proxied("ai-do"))
            #expect(stranger.status == 403 && stranger.body.contains("ai-do"))
            #expect(try https(port, "/api/status", headers: proxied("ai-do")).status == 401)
            _ = daemon.terminate()

            // The same header from an address that is not the proxy's is ignored.
            (daemon, port) = try start(proxy: "127.0.0.2")
            #expect(try https(port, "/articles", headers: proxied("an")).status == 303)
            #expect(try https(port, "/api/status", headers: proxied("an")).status == 401)
        }
    }
}
