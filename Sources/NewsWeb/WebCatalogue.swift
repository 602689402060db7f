/// Every string the web view shows, one catalogue per language. A page gets the whole catalogue
/// of its language as `t` (`{{t.articles}}`); a key missing from one language is a test failure.
public enum WebCatalogue {
    public enum Language: String, Sendable, CaseIterable {
        case vi, en
    }

    /// The language for an `Accept-Language` header: Vietnamese if preferred over English, else English.
    public static func language(acceptLanguage: String?, chosen: String?) -> Language {
        if let chosen, let language = Language(rawValue: chosen) { return language }
        for part in (acceptLanguage ?? "").split(separator: ",") {
            let tag = part.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased() ?? ""
            if tag.hasPrefix("vi") { return .vi }
            if tag.hasPrefix("en") { return .en }
        }
        return .en
    }

    public static func strings(_ language: Language) -> [String: String] {
        language == .vi ? vietnamese : english
    }

    static let english: [String: String] = [
        "lang": "en", "other_lang": "vi", "other_lang_name": "Tiếng Việt",
        "title": "newsd", "articles": "Articles", "conflicts": "Conflicts", "sites": "Sites", "status": "Status",
        "sign_in": "Sign in", "sign_out": "Sign out", "account": "Account", "password": "Password",
        "search": "Search", "search_hint": "name or title (Ha Noi finds Hà Nội)",
        "filter_live": "All", "filter_changed_today": "Changed today", "filter_conflicts": "In conflict", "filter_deleted": "Deleted",
        "article": "Article", "title_col": "Title", "last_change": "Last change", "origin": "Site", "size": "Size",
        "author": "Changed by", "unknown_author": "unknown", "blame": "Who wrote what", "paragraph": "Paragraph",
        "blame_of": "Who last changed each paragraph of version", "blame_stopped": "Older paragraphs are given to the oldest version walked; versions walked back:",
        "blame_stopped_depth": "the most one view walks", "blame_stopped_size": "as much text as one view reads",
        "blame_stopped_time": "the time one view may take",
        "blame_approximate": "A version changed too many paragraphs to match them one by one: they are all given to it.",
        "versions": "Versions", "version": "Version", "time": "Time", "what_changed": "What changed",
        "current_text": "Current text", "text_of_version": "Text of version", "deleted": "deleted",
        "view": "view", "diff": "diff", "diff_prev": "diff with previous", "restore": "Restore",
        "restore_confirm": "Restore this version? It becomes the newest version, everywhere; nothing is lost.",
        "restore_changes": "What restoring changes in the current text:",
        "word_diff": "words", "line_diff": "lines", "from": "from", "to": "to", "cut": "The diff is cut here: it is too large to show whole.",
        "no_articles": "No article matches.", "page": "Page", "previous": "Previous", "next": "Next", "of": "of",
        "winner": "in the folder", "why_winner": "Chosen by the conflict rule (an edit beats a delete, then the later time, then the version ID), the same at every site.",
        "keep_this": "Keep this one", "no_conflicts": "No conflicts.",
        "this_site": "This site", "peer": "Peer", "connected": "connected", "not_connected": "not connected",
        "in_sync": "in sync", "behind": "behind", "last_exchange": "last exchange", "clock_skew": "clock",
        "pending": "Asked to be peers", "problems": "Problems", "all_well": "All is well.",
        "not_found": "Not found", "bad_request": "Not a valid request", "forbidden": "Your account may read but not change.",
        "not_an_account": "The proxy signed you in as an account this site does not have; an administrator adds it with newsctl web-user add:",
        "signed_in_as": "Signed in as", "viewer": "viewer", "editor": "editor",
        "first_run": "First run: this one-time link signs you in. Add accounts with newsctl web-user add.",
        "wrong_password": "Wrong account or password.", "too_many": "Too many failed sign-ins from here; wait ten minutes.",
        "restored": "Restored: the version is the newest again.", "resolved": "Resolved.",
        "unknown": "unknown", "words_added": "words added", "words_removed": "words removed",
        "entries_behind": "entries behind", "seconds_behind": "s behind",
    ]

    static let vietnamese: [String: String] = [
        "lang": "vi", "other_lang": "en", "other_lang_name": "English",
        "title": "newsd", "articles": "Bài viết", "conflicts": "Xung đột", "sites": "Các điểm", "status": "Trạng thái",
        "sign_in": "Đăng nhập", "sign_out": "Đăng xuất", "account": "Tài khoản", "password": "Mật khẩu",
        "search": "Tìm", "search_hint": "tên hoặc tiêu đề (gõ Ha Noi cũng tìm ra Hà Nội)",
        "filter_live": "Tất cả", "filter_changed_today": "Sửa hôm nay", "filter_conflicts": "Đang xung đột", "filter_deleted": "Đã xoá",
        "article": "Bài", "title_col": "Tiêu đề", "last_change": "Sửa lần cuối", "origin": "Điểm", "size": "Dung lượng",
        "author": "Người sửa", "unknown_author": "không rõ", "blame": "Ai viết đoạn nào", "paragraph": "Đoạn",
        "blame_of": "Người sửa cuối cùng của từng đoạn trong phiên bản", "blame_stopped": "Các đoạn cũ hơn được ghi cho phiên bản cũ nhất đã xem; số phiên bản đã lần ngược:",
        "blame_stopped_depth": "nhiều nhất một lần xem được lần", "blame_stopped_size": "lượng văn bản tối đa một lần xem được đọc",
        "blame_stopped_time": "thời gian tối đa cho một lần xem",
        "blame_approximate": "Một phiên bản sửa quá nhiều đoạn để so từng đoạn: tất cả được ghi cho phiên bản đó.",
        "versions": "Các phiên bản", "version": "Phiên bản", "time": "Thời gian", "what_changed": "Thay đổi",
        "current_text": "Nội dung hiện tại", "text_of_version": "Nội dung phiên bản", "deleted": "đã xoá",
        "view": "xem", "diff": "so sánh", "diff_prev": "so với bản trước", "restore": "Khôi phục",
        "restore_confirm": "Khôi phục phiên bản này? Nó sẽ thành bản mới nhất ở mọi điểm; không mất gì.",
        "restore_changes": "Khôi phục sẽ thay đổi nội dung hiện tại như sau:",
        "word_diff": "theo từ", "line_diff": "theo dòng", "from": "từ", "to": "đến", "cut": "Phần so sánh bị cắt tại đây vì quá dài.",
        "no_articles": "Không có bài nào khớp.", "page": "Trang", "previous": "Trước", "next": "Sau", "of": "trên",
        "winner": "đang trong thư mục", "why_winner": "Chọn theo quy tắc xung đột (bản sửa thắng bản xoá, rồi thời gian muộn hơn, rồi mã phiên bản), như nhau ở mọi điểm.",
        "keep_this": "Giữ bản này", "no_conflicts": "Không có xung đột.",
        "this_site": "Điểm này", "peer": "Điểm ngang hàng", "connected": "đã kết nối", "not_connected": "chưa kết nối",
        "in_sync": "đã đồng bộ", "behind": "chậm", "last_exchange": "trao đổi lần cuối", "clock_skew": "đồng hồ",
        "pending": "Xin kết nối", "problems": "Sự cố", "all_well": "Mọi thứ ổn.",
        "not_found": "Không tìm thấy", "bad_request": "Yêu cầu không hợp lệ", "forbidden": "Tài khoản của bạn chỉ được xem, không được thay đổi.",
        "not_an_account": "Proxy đã đăng nhập bạn bằng một tài khoản mà site này không có; quản trị viên thêm bằng newsctl web-user add:",
        "signed_in_as": "Đang đăng nhập:", "viewer": "người xem", "editor": "biên tập viên",
        "first_run": "Lần chạy đầu: đường dẫn dùng một lần này đăng nhập cho bạn. Thêm tài khoản bằng newsctl web-user add.",
        "wrong_password": "Sai tài khoản hoặc mật khẩu.", "too_many": "Đăng nhập sai quá nhiều lần từ đây; hãy đợi mười phút.",
        "restored": "Đã khôi phục: phiên bản này lại là bản mới nhất.", "resolved": "Đã giải quyết.",
        "unknown": "không rõ", "words_added": "từ thêm", "words_removed": "từ bỏ",
        "entries_behind": "mục chậm", "seconds_behind": "giây chậm",
    ]
}
