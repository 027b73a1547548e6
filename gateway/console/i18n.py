"""The console's two languages: Vietnamese (the default) and English.

One catalogue: each message id has both texts, so a missing translation is a test
failure, not a blank on the page. The language comes from `?lang=` (remembered in a
cookie), else that cookie, else the browser's Accept-Language, else Vietnamese.
"""

from __future__ import annotations

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "LANG_COOKIE",
    "MESSAGES",
    "choose_language",
    "translate",
]

from collections.abc import Mapping

LANGUAGES = ("vi", "en")
DEFAULT_LANGUAGE = "vi"
LANG_COOKIE = "lgsp_console_lang"

# id: (Vietnamese, English). Placeholders are str.format fields.
MESSAGES: dict[str, tuple[str, str]] = {
    "app.name": ("Bảng điều khiển LGSP", "LGSP console"),
    "app.skip": ("Bỏ qua, đến nội dung chính", "Skip to main content"),
    "nav.label": ("Điều hướng chính", "Main navigation"),
    "nav.overview": ("Tổng quan", "Overview"),
    "nav.search": ("Tìm giao dịch", "Search"),
    "nav.deadletters": ("Giao dịch lỗi", "Dead letters"),
    "nav.replays": ("Lịch sử gửi lại", "Replay history"),
    "nav.signout": ("Đăng xuất", "Sign out"),
    "nav.signed_in": ("Đã đăng nhập: {subject} ({roles})", "Signed in as {subject} ({roles})"),
    "lang.label": ("Ngôn ngữ", "Language"),
    "lang.vi": ("Tiếng Việt", "Tiếng Việt"),
    "lang.en": ("English", "English"),
    # sign in
    "signin.title": ("Đăng nhập", "Sign in"),
    "signin.intro": ("Dán mã truy cập (token) của bạn để đăng nhập. Mã chỉ được gửi đến "
                     "gateway này và được giữ trong cookie đã mã hoá.",
                     "Paste your access token to sign in. It is sent only to this gateway "
                     "and kept in an encrypted cookie."),
    "signin.token": ("Mã truy cập", "Access token"),
    "signin.token_help": ("Mã cục bộ bắt đầu bằng lgsp_ (tạo bằng lgsp tokens create), hoặc "
                          "JWT của hệ thống định danh của tỉnh.",
                          "A local token starting with lgsp_ (made with lgsp tokens create), "
                          "or a JWT from the province's identity provider."),
    "signin.oidc": ("Hệ thống định danh của tỉnh đã được cấu hình: lấy access token (JWT) "
                    "từ đó rồi dán vào đây. Phiên kết thúc khi token hết hạn.",
                    "The province's identity provider is configured: get an access token "
                    "(JWT) from it and paste it here. The session ends when the token "
                    "expires."),
    "signin.oidc_link": ("Lấy token từ hệ thống định danh", "Get a token from the identity "
                         "provider"),
    "signin.submit": ("Đăng nhập", "Sign in"),
    "signin.failed": ("Mã truy cập không hợp lệ.", "The token is not valid."),
    "signin.expired": ("Phiên đã kết thúc; vui lòng đăng nhập lại.",
                       "Your session has ended; please sign in again."),
    "signin.signed_out": ("Đã đăng xuất.", "Signed out."),
    "signin.unavailable": ("Không thể xác thực lúc này: {message}",
                           "Authentication is unavailable: {message}"),
    # overview
    "overview.title": ("Tổng quan", "Overview"),
    "overview.services": ("Tình trạng các dịch vụ quốc gia", "National services"),
    "overview.services_caption": ("Theo sổ cái, trong {period} phút gần nhất",
                                  "From the ledger, over the last {period} minutes"),
    "overview.service": ("Dịch vụ", "Service"),
    "overview.health": ("Tình trạng", "Health"),
    "overview.successes": ("Thành công", "Delivered"),
    "overview.failures": ("Thất bại", "Failed"),
    "overview.held": ("Đang giữ", "Held"),
    "overview.held_oldest": ("Giữ lâu nhất", "Oldest held"),
    "overview.last_success": ("Thành công gần nhất", "Last success"),
    "overview.last_failure": ("Thất bại gần nhất", "Last failure"),
    "overview.avg_ms": ("Thời gian TB (ms)", "Avg time (ms)"),
    "overview.no_services": ("Chưa có giao dịch nào đến dịch vụ quốc gia.",
                             "No transaction has reached a national service yet."),
    "overview.no_index": ("Chỉ mục giao dịch không chạy trong gateway này "
                          "(LGSP_INDEX__ENABLED).",
                          "The transaction index does not run in this gateway "
                          "(LGSP_INDEX__ENABLED)."),
    "health.ok": ("Bình thường", "Healthy"),
    "health.failing": ("Đang lỗi", "Failing"),
    "health.down": ("Mất kết nối (đang giữ giao dịch)", "Down (holding transactions)"),
    "health.degraded": ("Có lỗi", "Some failures"),
    "health.idle": ("Không hoạt động", "Idle"),
    "overview.connectors": ("Connector", "Connectors"),
    "overview.connector": ("Tên", "Name"),
    "overview.state": ("Trạng thái", "State"),
    "overview.actions": ("Thao tác", "Actions"),
    "overview.no_connectors": ("Chưa có connector nào.", "No connectors yet."),
    "overview.connectors_elsewhere": ("Gateway này không chạy connector.",
                                      "This gateway does not run connectors."),
    "action.pause": ("Tạm dừng", "Pause"),
    "action.resume": ("Tiếp tục", "Resume"),
    "action.restart": ("Khởi động lại", "Restart"),
    "action.done": ("Đã thực hiện: {action} {name}.", "Done: {action} {name}."),
    "overview.pipeline": ("Luồng xử lý", "Pipeline"),
    "overview.deadletters": ("Giao dịch lỗi đang chờ", "Dead letters waiting"),
    "overview.dl_growth": ("Tăng thêm trong 1 giờ qua", "Added in the last hour"),
    "overview.dl_rate": ("{rate} / giờ", "{rate} per hour"),
    "overview.lag": ("Độ trễ tiêu thụ (bản ghi chưa xử lý)", "Consumer lag (records behind)"),
    "overview.in_flight": ("Đang xử lý", "In flight"),
    "overview.kafka": ("Kafka", "Kafka"),
    "overview.kafka_ok": ("Đã kết nối", "Connected"),
    "overview.kafka_down": ("Mất kết nối", "Not connected"),
    "overview.not_measured": ("không đo ở gateway này", "not measured by this gateway"),
    "overview.refreshed": ("Cập nhật lúc {at}", "Updated at {at}"),
    # search
    "search.title": ("Tìm giao dịch", "Find transactions"),
    "search.transaction_id": ("Mã giao dịch", "Transaction id"),
    "search.business_key": ("Mã hồ sơ / số văn bản", "Dossier code / document id"),
    "search.service": ("Dịch vụ quốc gia", "National service"),
    "search.outcome": ("Kết quả", "Outcome"),
    "search.any": ("Tất cả", "Any"),
    "search.since": ("Từ (ví dụ 2h, 3d hoặc 2026-01-31T08:00)",
                     "From (e.g. 2h, 3d or 2026-01-31T08:00)"),
    "search.until": ("Đến", "Until"),
    "search.submit": ("Tìm", "Search"),
    "search.results": ("Kết quả", "Results"),
    "search.none": ("Không có giao dịch nào khớp.", "No transaction matches."),
    "search.more": ("Trang sau", "Next page"),
    "search.at": ("Thời điểm", "At"),
    "search.attempts": ("Số lần gửi", "Attempts"),
    "search.error": ("Lỗi gần nhất", "Last error"),
    "search.no_index": ("Tìm kiếm cần chỉ mục giao dịch; gateway này không chạy nó. Vẫn có "
                        "thể mở một giao dịch theo mã.",
                        "Searching needs the transaction index, which this gateway does not "
                        "run. A transaction can still be opened by its id."),
    "status.DELIVERED": ("Đã chuyển", "Delivered"),
    "status.DEAD_LETTERED": ("Lỗi, chờ gửi lại", "Dead-lettered"),
    "status.REPLAY_PENDING": ("Đang gửi lại", "Replay pending"),
    "status.IN_FLIGHT": ("Đang xử lý", "In flight"),
    "status.HELD": ("Đang giữ (dịch vụ mất kết nối)", "Held (service down)"),
    # transaction
    "tx.title": ("Giao dịch {id}", "Transaction {id}"),
    "tx.summary": ("Tóm tắt", "Summary"),
    "tx.status": ("Trạng thái", "Status"),
    "tx.connector": ("Connector", "Connector"),
    "tx.service": ("Dịch vụ", "Service"),
    "tx.message_type": ("Loại thông điệp", "Message type"),
    "tx.correlation": ("Mã tương quan", "Correlation id"),
    "tx.receipt": ("Biên nhận", "Receipt"),
    "tx.delivered_at": ("Chuyển lúc", "Delivered at"),
    "tx.ingested": ("Tiếp nhận", "Ingested"),
    "tx.trace": ("Hành trình", "Trace"),
    "tx.when": ("Thời điểm", "When"),
    "tx.what": ("Sự kiện", "Event"),
    "tx.summary_col": ("Mô tả", "Summary"),
    "tx.details": ("Chi tiết", "Details"),
    "tx.replay": ("Lần gửi lại", "Replay"),
    "tx.not_found": ("Không tìm thấy giao dịch {id}.", "No transaction {id}."),
    "event.ingested": ("Tiếp nhận", "Ingested"),
    "event.held": ("Giữ lại", "Held"),
    "event.attempt": ("Lần gửi", "Attempt"),
    "event.dead_lettered": ("Chuyển vào hàng lỗi", "Dead-lettered"),
    "event.replay_submitted": ("Gửi lại", "Replay submitted"),
    "event.delivered": ("Đã chuyển", "Delivered"),
    # dead letters
    "dl.title": ("Giao dịch lỗi", "Dead letters"),
    "dl.filter": ("Lọc", "Filter"),
    "dl.from": ("Lỗi từ (ví dụ 2h, 3d)", "Failed from (e.g. 2h, 3d)"),
    "dl.to": ("Lỗi đến", "Failed until"),
    "dl.connector": ("Connector", "Connector"),
    "dl.error_class": ("Loại lỗi", "Error class"),
    "dl.apply": ("Lọc", "Apply"),
    "dl.reasons": ("Nguyên nhân theo loại lỗi", "Reasons by error class"),
    "dl.count": ("Số lượng", "Count"),
    "dl.example": ("Ví dụ thông báo", "Example message"),
    "dl.list": ("Danh sách ({shown} / {total})", "List ({shown} of {total})"),
    "dl.select": ("Chọn", "Select"),
    "dl.select_row": ("Chọn giao dịch {id}", "Select transaction {id}"),
    "dl.failed_at": ("Lỗi lúc", "Failed at"),
    "dl.message": ("Thông báo", "Message"),
    "dl.none": ("Không có giao dịch lỗi nào đang chờ.", "No dead letters waiting."),
    "dl.skipped": ("Đã bỏ qua: {delivered} đã được chuyển, {submitted} đã được gửi lại.",
                   "Skipped: {delivered} already delivered, {submitted} already re-submitted."),
    "dl.preview": ("Xem trước gửi lại (chạy thử)", "Preview replay (dry run)"),
    "dl.preview_hint": ("Không chọn dòng nào: xem trước mọi giao dịch khớp bộ lọc.",
                        "With no row selected, the preview covers every match of the "
                        "filter."),
    "dl.no_replay_role": ("Gửi lại cần vai trò replayer; bạn chỉ có thể xem.",
                          "Replaying needs the replayer role; you can only view."),
    "preview.title": ("Xem trước gửi lại", "Replay preview"),
    "preview.intro": ("Chạy thử {id}: chưa gửi gì. Sẽ gửi lại {n} giao dịch.",
                      "Dry run {id}: nothing was sent. {n} transactions would be re-submitted."),
    "preview.confirm": ("Tôi đã xem danh sách và muốn gửi lại {n} giao dịch này.",
                        "I have checked the list and want to re-submit these {n} "
                        "transactions."),
    "preview.submit": ("Gửi lại", "Replay"),
    "preview.cancel": ("Huỷ", "Cancel"),
    "preview.nothing": ("Không có gì để gửi lại.", "Nothing to replay."),
    "preview.must_confirm": ("Hãy đánh dấu ô xác nhận trước khi gửi lại.",
                             "Tick the confirmation box before replaying."),
    # replays
    "replay.title": ("Gửi lại {id}", "Replay {id}"),
    "replay.progress": ("Tiến độ", "Progress"),
    "replay.status": ("Trạng thái", "Status"),
    "replay.selected": ("Đã chọn", "Selected"),
    "replay.replayed": ("Đã gửi lại", "Re-submitted"),
    "replay.delivered": ("Đã chuyển", "Delivered"),
    "replay.failed_again": ("Lỗi lại", "Failed again"),
    "replay.pending": ("Chờ kết quả", "Pending"),
    "replay.operator": ("Người thực hiện", "By"),
    "replay.origin": ("Từ", "From"),
    "replay.started": ("Bắt đầu", "Started"),
    "replay.finished": ("Kết thúc", "Finished"),
    "replay.message": ("Ghi chú", "Note"),
    "replay.running": ("Đang chạy…", "Running…"),
    "replay.refresh": ("Làm mới", "Refresh"),
    "replay.not_found": ("Không có lần gửi lại {id}.", "No replay {id}."),
    "replay.busy": ("Một lần gửi lại khác đang chạy: {message}",
                    "Another replay is running: {message}"),
    "rstatus.DRY_RUN": ("Chạy thử", "Dry run"),
    "rstatus.STARTED": ("Đang chạy", "Running"),
    "rstatus.COMPLETED": ("Hoàn tất", "Completed"),
    "rstatus.INTERRUPTED": ("Bị ngắt", "Interrupted"),
    "rstatus.FAILED": ("Thất bại", "Failed"),
    "history.title": ("Lịch sử gửi lại", "Replay history"),
    "history.none": ("Chưa có lần gửi lại nào.", "No replay yet."),
    "history.id": ("Mã", "Id"),
    "history.kind": ("Loại", "Kind"),
    "history.dry": ("Chạy thử", "Dry run"),
    "history.real": ("Gửi thật", "Real"),
    # errors
    "error.title": ("Không thực hiện được", "Not possible"),
    "error.forbidden": ("Bạn không có quyền: {message}", "Not allowed: {message}"),
    "error.role": ("Bạn không có quyền: thao tác này cần vai trò {role} (hoặc admin).",
                   "Not allowed: this operation needs the {role} role (or admin)."),
    "error.csrf": ("Biểu mẫu đã cũ hoặc không đến từ bảng điều khiển này; hãy tải lại trang.",
                   "The form is stale or did not come from this console; reload the page."),
    "error.invalid": ("Dữ liệu không hợp lệ: {message}", "Invalid input: {message}"),
    "error.not_found": ("Không tìm thấy trang.", "Page not found."),
    "error.unavailable": ("Tạm thời không khả dụng: {message}",
                          "Temporarily unavailable: {message}"),
    "error.back": ("Quay lại", "Go back"),
    "common.none": ("—", "—"),
    "common.yes": ("có", "yes"),
    "common.close": ("Đóng", "Close"),
}


def translate(lang: str, key: str, **values: object) -> str:
    """The message in `lang`, with `values` filled in; the id itself if unknown."""
    texts = MESSAGES.get(key)
    if texts is None:
        return key
    text = texts[0] if lang == "vi" else texts[1]
    return text.format(**values) if values else text


def choose_language(query: Mapping[str, str], cookies: Mapping[str, str],
                    accept_language: str | None) -> str:
    """The language of a request (see the module docstring)."""
    for candidate in (query.get("lang"), cookies.get(LANG_COOKIE)):
        if candidate in LANGUAGES:
            return candidate
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()[:2]
        if tag in LANGUAGES:
            return tag
    return DEFAULT_LANGUAGE
