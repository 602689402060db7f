import Foundation
import Mustache
import SyncProtocol
import Testing
@testable import NewsWeb

/// What the web view renders and whom it lets in, without a server.
@Suite struct WebViewUnitTests {
    let library: MustacheLibrary = {
        _ = ScalarHTML.registered
        return MustacheLibrary(templates: try! WebTemplates.all.mapValues { try MustacheTemplate(string: $0) })
    }()

    @Test func articleTextIsEscapedWhateverItHolds() throws {
        let hostile = "<script>alert('x')</script> \"quoted\" & 'single' \u{0}end"
        let html = try #require(library.render(["article": "a<b>.txt", "text": WebRoutes.displayable(hostile), "versions": [], "t": WebCatalogue.strings(.en)],
                                               withTemplate: "article"))
        #expect(!html.contains("<script>") && !html.contains("<b>"))
        #expect(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;") || html.contains("&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;"), "\(html)")
        #expect(html.contains("&quot;quoted&quot;") && html.contains("&amp;"))
        #expect(!html.contains("\u{0}") && html.contains("\u{FFFD}end"), "NUL shown as a replacement character")
    }

    @Test func aQuoteWithACombiningMarkCannotLeaveAnAttribute() throws {
        // `"` + U+0301 is one Character that is not `"`: escaping by Character lets it through.
        let attack = "\"\u{301} autofocus onfocus=alert(1) x=\"\u{301}"
        let html = try #require(library.render(["query": attack, "queryEscaped": "", "filters": [], "t": WebCatalogue.strings(.en)],
                                               withTemplate: "articles"))
        // Scalar by scalar (Character-wise comparisons would themselves merge the mark): the
        // attribute's value runs from its opening quote to the next quote scalar.
        let scalars = Array(html.unicodeScalars)
        let opening = Array("name=\"q\" value=\"".unicodeScalars)
        let start = try #require((0...(scalars.count - opening.count)).first { Array(scalars[$0..<($0 + opening.count)]) == opening }) + opening.count
        let end = try #require(scalars[start...].firstIndex(of: "\""))
        var value = String.UnicodeScalarView()
        value.append(contentsOf: scalars[start..<end])
        let text = String(value)
        #expect(text.unicodeScalars.count > 20 && String(text.unicodeScalars.filter { $0.isASCII }).contains("onfocus=alert(1)"),
                "the attack stays inside the value: \(text)")
        #expect(String(text.unicodeScalars.filter { $0.isASCII }).hasPrefix("&quot;"))
    }

    @Test func theWordDiffMarksWholeVietnameseWordsWithInsAndDel() throws {
        let diff = WebDiff.make(old: "Đường phố Hà Nội sáng nay đông đúc.\n", new: "Đường phố Hà Nội chiều nay vắng vẻ.\n", mode: .word)
        #expect(diff.wordsRemoved == 3 && diff.wordsAdded == 3)
        let html = try #require(library.render(WebRoutes.diffData(diff).merging(["t": WebCatalogue.strings(.vi)]) { $1 }, withTemplate: "diffblocks"))
        #expect(html.contains("<del>sáng</del>") && html.contains("<ins>chiều</ins>"), "\(html)")
        #expect(html.contains("đông") && html.contains("vắng") && html.contains("<del>") && !html.contains("<del> </del>"), "\(html)")
        // Decomposed marks stay with their letters: "ệ" as e + two combining marks is one grapheme.
        let decomposed = "Vie\u{0302}\u{0323}t Nam"
        let marks = WebDiff.make(old: decomposed, new: "Việt Nam mới", mode: .word)
        for block in marks.blocks {
            for segment in block where segment.kind != .same {
                #expect(!(segment.text.unicodeScalars.first?.properties.generalCategory == .nonspacingMark), "a mark split from its letter")
            }
        }
        // Markup in the text is text in the diff.
        let tags = WebDiff.make(old: "a", new: "a <b>b</b>", mode: .word)
        let tagged = try #require(library.render(WebRoutes.diffData(tags).merging(["t": WebCatalogue.strings(.en)]) { $1 }, withTemplate: "diffblocks"))
        #expect(tagged.contains("&lt;b&gt;") && !tagged.contains("<b>"))
    }

    @Test func aHugeDiffIsCutAndSaysSo() {
        let old = (0..<20_000).map { "từ\($0)" }.joined(separator: " ")
        let new = (0..<20_000).map { "chữ\($0)" }.joined(separator: " ")
        let started = ContinuousClock.now
        let diff = WebDiff.make(old: old, new: new, mode: .word)
        #expect(diff.cut)
        #expect(ContinuousClock.now - started < .seconds(30), "bounded, not hung")
    }

    @Test func sessionsCsrfAndTheFirstRunLinkAreSingleUseAndBounded() {
        let sessions = WebSessions()
        let link = sessions.makeFirstRunToken()
        #expect(!sessions.redeemFirstRunToken(String(repeating: "0", count: 64)))
        #expect(sessions.redeemFirstRunToken(link))
        #expect(!sessions.redeemFirstRunToken(link), "once")

        let (token, session) = sessions.start(account: "an", role: .editor)
        #expect(sessions.session(token)?.account == "an")
        #expect(session.csrf.count == 64 && session.csrf != token)
        #expect(sessions.session("not a token") == nil && sessions.session(nil) == nil)
        #expect(WebSessions.equal(session.csrf, session.csrf) && !WebSessions.equal(session.csrf, String(session.csrf.reversed())))
        #expect(!WebSessions.equal(session.csrf, ""))
        // Idle past the limit: gone.
        #expect(sessions.session(token, now: .now + WebSessions.idleLimit + .seconds(1)) == nil)
        #expect(sessions.session(token) == nil)
        // A removed account's sessions end; a changed role applies at once.
        let (other, _) = sessions.start(account: "binh", role: .editor)
        sessions.update(account: "binh", role: .viewer)
        #expect(sessions.session(other)?.role == .viewer)
        sessions.update(account: "binh", role: nil)
        #expect(sessions.session(other) == nil)
        // Sign-in attempts are limited per address.
        for _ in 0..<WebSessions.maximumFailures { sessions.failedSignIn(from: "192.0.2.9") }
        #expect(!sessions.maySignIn(from: "192.0.2.9") && sessions.maySignIn(from: "192.0.2.10"))
        #expect(sessions.maySignIn(from: "192.0.2.9", now: .now + WebSessions.failureWindow + .seconds(1)))
    }

    @Test func everyStringIsInBothLanguages() {
        #expect(Set(WebCatalogue.english.keys) == Set(WebCatalogue.vietnamese.keys))
        #expect(WebCatalogue.language(acceptLanguage: "vi-VN,vi;q=0.9,en;q=0.8", chosen: nil) == .vi)
        #expect(WebCatalogue.language(acceptLanguage: "en-GB,en", chosen: nil) == .en)
        #expect(WebCatalogue.language(acceptLanguage: "vi", chosen: "en") == .en)
        // Every {{t.key}} a template uses exists.
        for (name, template) in WebTemplates.all {
            var rest = Substring(template)
            while let start = rest.range(of: "{{t.") {
                let key = rest[start.upperBound...].prefix { $0 != "}" }
                #expect(WebCatalogue.english[String(key)] != nil, "\(name) uses t.\(key)")
                rest = rest[start.upperBound...]
            }
        }
    }

    @Test func searchFoldsCaseMarksAndDBar() {
        #expect(SearchFolding.fold("Hà Nội") == "ha noi")
        #expect(SearchFolding.fold("ĐÀ NẴNG") == "da nang")
        #expect(SearchFolding.fold("Vie\u{0302}\u{0323}t") == "viet")
    }

    @Test func accountsKeepOnlyBcryptHashesAndCheckTheirInput() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("web-accounts-\(UUID())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let accounts = try WebAccounts(dataDir: folder)
        _ = try await accounts.add(name: "an", role: .editor, password: "mat-khau-dai")
        let file = try String(contentsOfFile: folder + "/" + WebAccounts.fileName, encoding: .utf8)
        #expect(!file.contains("mat-khau-dai") && file.contains("$2b$12$"), "a bcrypt hash of cost 12, never the password")
        var st = stat()
        #expect(stat(folder + "/" + WebAccounts.fileName, &st) == 0 && st.st_mode & 0o777 == 0o600)
        #expect(await accounts.verify(name: "an", password: "mat-khau-dai") == .editor)
        #expect(await accounts.verify(name: "an", password: "sai") == nil)
        #expect(await accounts.verify(name: "khong-co", password: "mat-khau-dai") == nil)
        await #expect(throws: WebAccounts.Invalid.self) { try await accounts.add(name: "a b", role: .viewer, password: "mat-khau-dai") }
        await #expect(throws: WebAccounts.Invalid.self) { try await accounts.add(name: "c", role: .viewer, password: "ngan") }
        // Read back by a new instance (a restart).
        #expect(try await WebAccounts(dataDir: folder).role(of: "an") == .editor)
    }
}
