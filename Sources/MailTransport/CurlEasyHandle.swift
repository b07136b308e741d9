import CCurl
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// A flag another task can raise to make a connection's blocking work stop early.
///
/// Checked by libcurl's progress callback during a transfer and between waits on a raw socket,
/// so ``SMTPSender/shutdown()`` and ``IMAPMailbox/shutdown()`` end blocked work within a fraction
/// of a second.
final class StopFlag: Sendable {
    private let raised = Atomic<Bool>(false)
    func raise() { raised.store(true, ordering: .releasing) }
    var isRaised: Bool { raised.load(ordering: .acquiring) }
}

/// Per-transfer state that crosses the C boundary as `void *userdata`.
private final class TransferContext {
    let upload: [UInt8]
    var offset = 0
    let onData: ([UInt8]) -> Void
    let stop: StopFlag
    init(upload: [UInt8], onData: @escaping ([UInt8]) -> Void, stop: StopFlag) {
        self.upload = upload
        self.onData = onData
        self.stop = stop
    }
}

/// What the header callback keeps: the server's recent protocol lines (never what we sent, which
/// may hold credentials).
final class ServerLineLog {
    private(set) var lines: [String] = []
    private var partial: [UInt8] = []
    private let limit = 16

    func append(_ bytes: UnsafeRawBufferPointer) {
        for byte in bytes {
            if byte == UInt8(ascii: "\n") {
                var line = partial
                if line.last == UInt8(ascii: "\r") { line.removeLast() }
                lines.append(String(decoding: line, as: UTF8.self))
                if lines.count > limit { lines.removeFirst(lines.count - limit) }
                partial.removeAll(keepingCapacity: true)
            } else if partial.count < 4096 {
                partial.append(byte)
            }
        }
    }

    func clear() {
        lines.removeAll(keepingCapacity: true)
        partial.removeAll(keepingCapacity: true)
    }

    /// The last line that starts with reply code `code` (libcurl may have sent `QUIT` and read
    /// its `221` after the reply that failed).
    func last(withCode code: Int) -> String? {
        let prefix = String(code)
        return lines.last { $0.hasPrefix(prefix) && ($0.count == 3 || $0.dropFirst(3).first == " " || $0.dropFirst(3).first == "-") }
    }

    /// The last line the server sent, e.g. `550 5.1.1 <x@example.test>: Recipient address rejected`.
    var last: String? { lines.last }
}

private let readCallback: ccurl_io_callback = { buffer, size, nitems, userdata in
    guard let buffer, let userdata else { return ccurl_readfunc_abort }
    let ctx = Unmanaged<TransferContext>.fromOpaque(userdata).takeUnretainedValue()
    if ctx.stop.isRaised { return ccurl_readfunc_abort }
    let n = min(size * nitems, ctx.upload.count - ctx.offset)
    if n > 0 {
        ctx.upload.withUnsafeBytes { source in
            UnsafeMutableRawPointer(buffer).copyMemory(from: source.baseAddress! + ctx.offset, byteCount: n)
        }
        ctx.offset += n
    }
    return n
}

private let writeCallback: ccurl_io_callback = { buffer, size, nitems, userdata in
    guard let buffer, let userdata else { return 0 }
    let ctx = Unmanaged<TransferContext>.fromOpaque(userdata).takeUnretainedValue()
    ctx.onData(Array(UnsafeRawBufferPointer(start: buffer, count: size * nitems)))
    return size * nitems
}

private let progressCallback: ccurl_xferinfo_callback = { userdata, _, _, _, _ in
    guard let userdata else { return 0 }
    let ctx = Unmanaged<TransferContext>.fromOpaque(userdata).takeUnretainedValue()
    return ctx.stop.isRaised || Task.isCancelled ? 1 : 0
}

/// libcurl hands SMTP and IMAP server response lines to the header callback.
private let headerCallback: ccurl_io_callback = { buffer, size, nitems, userdata in
    guard let buffer, let userdata else { return size * nitems }
    let log = Unmanaged<ServerLineLog>.fromOpaque(userdata).takeUnretainedValue()
    log.append(UnsafeRawBufferPointer(start: buffer, count: size * nitems))
    return size * nitems
}

/// One libcurl easy handle: one connection, owned by one connection object.
///
/// Deliberately not `Sendable`: libcurl handles must never be used from two threads at once.
/// The owning actor runs every call on its own serial queue (see ``ConnectionExecutor``).
final class CurlEasyHandle {
    private let raw: UnsafeMutableRawPointer
    private var lists: [UInt32: UnsafeMutablePointer<curl_slist>?] = [:]
    private let errorBuffer: UnsafeMutablePointer<CChar>
    let serverLines = ServerLineLog()
    let stop: StopFlag

    /// Creates a handle restricted to `protocols` (e.g. `"smtp,smtps"`), with `NOSIGNAL` set and
    /// the server's protocol lines captured for error messages.
    init(protocols: String, stop: StopFlag) throws(MailTransportError) {
        try CurlGlobal.ensureInitialized()
        guard let raw = curl_easy_init() else {
            throw MailTransportError(kind: .configuration, message: "libcurl could not create a handle (out of memory)")
        }
        self.raw = raw
        self.stop = stop
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        try set(CURLOPT_NOSIGNAL, 1)
        try set(CURLOPT_PROTOCOLS_STR, protocols)
        try check(ccurl_setopt_pointer(raw, CURLOPT_ERRORBUFFER, errorBuffer), "error buffer")
        try check(ccurl_setopt_io_callback(raw, CURLOPT_HEADERFUNCTION, headerCallback), "header function")
        try check(ccurl_setopt_pointer(raw, CURLOPT_HEADERDATA, Unmanaged.passUnretained(serverLines).toOpaque()), "header data")
        try set(CURLOPT_NOPROGRESS, 0)
    }

    deinit {
        curl_easy_cleanup(raw)
        for case let list? in lists.values { curl_slist_free_all(list) }
        errorBuffer.deallocate()
    }

    // MARK: Options

    func set(_ option: CURLoption, _ value: Int) throws(MailTransportError) {
        try check(ccurl_setopt_long(raw, option, value), "option \(option.rawValue)")
    }

    func set(_ option: CURLoption, _ value: String) throws(MailTransportError) {
        // libcurl copies string options, so the C string only has to live for the call.
        let rc = value.withCString { ccurl_setopt_string(raw, option, $0) }
        try check(rc, "option \(option.rawValue)")
    }

    /// Sets a list option (`CURLOPT_MAIL_RCPT`, ...). libcurl does not copy lists: this handle
    /// keeps each one until it is replaced or the handle is cleaned up.
    func set(_ option: CURLoption, list: [String]) throws(MailTransportError) {
        var head: UnsafeMutablePointer<curl_slist>?
        for item in list {
            guard let next = curl_slist_append(head, item) else {
                if let head { curl_slist_free_all(head) }
                throw MailTransportError(kind: .configuration, message: "libcurl could not build a list (out of memory)")
            }
            head = next
        }
        let rc = ccurl_setopt_slist(raw, option, head)
        guard rc == CURLE_OK else {
            if let head { curl_slist_free_all(head) }
            try check(rc, "option \(option.rawValue)")
            return
        }
        // libcurl now points at the new list only: the previous one for this option can go.
        if let previous = lists.updateValue(head, forKey: option.rawValue), let previous {
            curl_slist_free_all(previous)
        }
    }

    func unset(_ option: CURLoption) throws(MailTransportError) {
        try check(ccurl_setopt_pointer(raw, option, nil), "option \(option.rawValue)")
    }

    private func check(_ rc: CURLcode, _ what: String) throws(MailTransportError) {
        guard rc == CURLE_OK else {
            throw MailTransportError(
                kind: .configuration,
                message: "libcurl rejected \(what): \(String(cString: curl_easy_strerror(rc)))",
                curlCode: Int(rc.rawValue)
            )
        }
    }

    // MARK: Transfers

    /// Runs `curl_easy_perform`, uploading `upload` and handing downloaded bytes to `onData`.
    /// Returns libcurl's result code; the caller turns a failure into a ``MailTransportError``.
    func perform(upload: [UInt8]? = nil, onData: @escaping ([UInt8]) -> Void = { _ in }) -> CURLcode {
        let ctx = TransferContext(upload: upload ?? [], onData: onData, stop: stop)
        let opaque = Unmanaged.passUnretained(ctx).toOpaque()
        errorBuffer[0] = 0
        serverLines.clear()
        _ = ccurl_setopt_long(raw, CURLOPT_UPLOAD, upload == nil ? 0 : 1)
        _ = ccurl_setopt_io_callback(raw, CURLOPT_READFUNCTION, readCallback)
        _ = ccurl_setopt_pointer(raw, CURLOPT_READDATA, opaque)
        _ = ccurl_setopt_io_callback(raw, CURLOPT_WRITEFUNCTION, writeCallback)
        _ = ccurl_setopt_pointer(raw, CURLOPT_WRITEDATA, opaque)
        _ = ccurl_setopt_xferinfo_callback(raw, progressCallback)
        _ = ccurl_setopt_pointer(raw, CURLOPT_XFERINFODATA, opaque)
        defer {
            // Never leave a dangling userdata on a handle that is used again.
            _ = ccurl_setopt_pointer(raw, CURLOPT_READDATA, nil)
            _ = ccurl_setopt_pointer(raw, CURLOPT_WRITEDATA, nil)
            _ = ccurl_setopt_pointer(raw, CURLOPT_XFERINFODATA, nil)
        }
        return withExtendedLifetime(ctx) { curl_easy_perform(raw) }
    }

    /// libcurl's description of the last failure (its error buffer, or the generic text).
    func errorText(_ code: CURLcode) -> String {
        let detail = String(cString: errorBuffer)
        return detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
    }

    /// A numeric `CURLINFO_*` value.
    func info(_ item: CURLINFO) -> Int? {
        var value = 0
        guard ccurl_getinfo_long(raw, item, &value) == CURLE_OK else { return nil }
        return value
    }

    /// The last protocol reply code (`CURLINFO_RESPONSE_CODE`), or nil when there was none.
    var responseCode: Int? {
        var code = 0
        guard ccurl_getinfo_long(raw, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK, code != 0 else { return nil }
        return code
    }

    // MARK: Raw socket (CONNECT_ONLY)

    /// The connected socket after a `CONNECT_ONLY` perform, or nil.
    var activeSocket: Int32? {
        var socket: curl_socket_t = ccurl_socket_bad
        guard ccurl_getinfo_socket(raw, &socket) == CURLE_OK, socket != ccurl_socket_bad else { return nil }
        return socket
    }

    enum RawIOResult {
        case ok
        case timedOut
        case stopped
        case failed(CURLcode, String)
        case closed
    }

    /// Sends every byte, waiting for the socket to become writable until `deadline`.
    func send(_ bytes: [UInt8], deadline: ContinuousClock.Instant) -> RawIOResult {
        var offset = 0
        while offset < bytes.count {
            if stop.isRaised { return .stopped }
            var sent = 0
            let rc = bytes.withUnsafeBytes { buffer in
                curl_easy_send(raw, buffer.baseAddress! + offset, buffer.count - offset, &sent)
            }
            if rc == CURLE_OK {
                offset += sent
                continue
            }
            guard rc == CURLE_AGAIN else { return .failed(rc, errorText(rc)) }
            switch waitForSocket(events: Int16(POLLOUT), deadline: deadline) {
            case .ok: continue
            case let other: return other
            }
        }
        return .ok
    }

    /// Receives whatever is available (at most `capacity` bytes), waiting until `deadline` for
    /// something to arrive. `.closed` means the server closed the connection.
    func receive(into buffer: inout [UInt8], capacity: Int = 65536, deadline: ContinuousClock.Instant) -> RawIOResult {
        var chunk = [UInt8](repeating: 0, count: capacity)
        while true {
            if stop.isRaised { return .stopped }
            var received = 0
            let rc = chunk.withUnsafeMutableBytes { curl_easy_recv(raw, $0.baseAddress!, capacity, &received) }
            if rc == CURLE_OK {
                if received == 0 { return .closed }
                buffer.append(contentsOf: chunk[0..<received])
                return .ok
            }
            guard rc == CURLE_AGAIN else {
                return .failed(rc, errorText(rc))
            }
            switch waitForSocket(events: Int16(POLLIN), deadline: deadline) {
            case .ok: continue
            case let other: return other
            }
        }
    }

    /// Waits with `poll` in slices of at most 200 ms, so a raised stop flag ends the wait quickly.
    /// (Task cancellation is left to the caller: IDLE answers it by sending `DONE`, which needs
    /// this wait to keep working.)
    private func waitForSocket(events: Int16, deadline: ContinuousClock.Instant) -> RawIOResult {
        guard let socket = activeSocket else { return .closed }
        while true {
            if stop.isRaised { return .stopped }
            let remaining = deadline - .now
            if remaining <= .zero { return .timedOut }
            let sliceMs = Int32(min(200, max(1, remaining.milliseconds)))
            var descriptor = pollfd(fd: socket, events: events, revents: 0)
            let n = poll(&descriptor, 1, sliceMs)
            if n > 0 { return .ok }  // readable, writable, or an error/hang-up that recv/send will report
            if n < 0 && errno != EINTR { return .failed(CURLE_RECV_ERROR, "poll failed: errno \(errno)") }
        }
    }
}

extension Duration {
    /// Whole milliseconds, rounded up, saturating.
    var milliseconds: Int {
        let (seconds, attoseconds) = components
        let ms = seconds.multipliedReportingOverflow(by: 1000)
        if ms.overflow { return seconds > 0 ? Int.max : Int.min }
        return Int(ms.partialValue) + Int((attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000)
    }

    /// Seconds as a floating-point number.
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
