import Foundation

/// A headless Chromium driven through WebDriver (W3C) by Debian's `chromedriver`: the browser
/// tests use the product as people do, against the real binary.
///
/// Each instance owns its chromedriver process, its browser and its profile directory, and ends
/// all three when released.
public final class BrowserSession: @unchecked Sendable {
    /// How the browser presents itself.
    public struct Viewport: Sendable, CustomStringConvertible {
        public var width: Int, height: Int
        /// Device pixels per CSS pixel.
        public var pixelRatio: Int
        /// A phone: touch, mobile layout viewport.
        public var isMobile: Bool

        public init(width: Int, height: Int, pixelRatio: Int = 1, isMobile: Bool = false) {
            self.width = width
            self.height = height
            self.pixelRatio = pixelRatio
            self.isMobile = isMobile
        }

        /// A desktop window.
        public static func desktop(width: Int = 1200, height: Int = 900, pixelRatio: Int = 1) -> Viewport {
            Viewport(width: width, height: height, pixelRatio: pixelRatio)
        }

        /// A phone, 360 CSS px wide.
        public static let phone = Viewport(width: 360, height: 740, pixelRatio: 2, isMobile: true)

        public var description: String { "\(width)×\(height)@\(pixelRatio)x\(isMobile ? " mobile" : "")" }
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// The W3C key of an element reference.
    static let elementKey = "element-6066-11e4-a52e-4f735466cecf"

    /// The screen the browser was started with.
    public let viewport: Viewport
    private let driver = Process()
    private let profile: TemporaryDirectory
    private let driverLog: String
    /// chromedriver's port.
    public let driverPort: Int
    /// The WebDriver session id.
    public private(set) var sessionID = ""

    /// Whether this machine has Chromium and chromedriver (`make test` installs them).
    public static var isAvailable: Bool {
        FileManager.default.isExecutableFile(atPath: "/usr/bin/chromedriver")
            && FileManager.default.isExecutableFile(atPath: "/usr/bin/chromium")
    }

    /// Starts chromedriver and a headless Chromium with `viewport`.
    public init(viewport: Viewport = .desktop()) throws {
        self.viewport = viewport
        profile = try TemporaryDirectory()
        driverPort = try Self.freePort()
        driverLog = profile.path + "/chromedriver.log"
        driver.executableURL = URL(fileURLWithPath: "/usr/bin/chromedriver")
        driver.arguments = ["--port=\(driverPort)", "--log-path=\(driverLog)"]
        driver.standardOutput = FileHandle.nullDevice
        driver.standardError = FileHandle.nullDevice
        try driver.run()
        let deadline = Date().addingTimeInterval(20)
        while true {
            if let status = try? call("GET", "/status") as? [String: Any], status["ready"] as? Bool == true { break }
            guard Date() < deadline, driver.isRunning else {
                throw Failure(description: "chromedriver did not become ready on port \(driverPort)")
            }
            usleep(50_000)
        }
        var arguments = [
            "--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--no-first-run",
            "--disable-extensions", "--user-data-dir=\(profile.path)/chromium", "--lang=en-GB",
            "--hide-scrollbars",
        ]
        var options: [String: Any] = ["binary": "/usr/bin/chromium"]
        if viewport.isMobile {
            options["mobileEmulation"] = [
                "deviceMetrics": [
                    "width": viewport.width, "height": viewport.height, "pixelRatio": viewport.pixelRatio,
                    "mobile": true, "touch": true,
                ]
            ]
        } else {
            arguments += [
                "--window-size=\(viewport.width),\(viewport.height)",
                "--force-device-scale-factor=\(viewport.pixelRatio)",
            ]
        }
        options["args"] = arguments
        let created = try call(
            "POST", "/session",
            [
                "capabilities": [
                    "alwaysMatch": [
                        "browserName": "chrome", "goog:chromeOptions": options,
                        "goog:loggingPrefs": ["browser": "ALL"],
                        "timeouts": ["pageLoad": 30_000, "script": 30_000, "implicit": 0],
                    ]
                ]
            ])
        guard let value = created as? [String: Any], let id = value["sessionId"] as? String else {
            throw Failure(description: "chromedriver did not create a session: \(String(describing: created))")
        }
        sessionID = id
    }

    deinit { quit() }

    /// Ends the browser session and chromedriver.
    public func quit() {
        if !sessionID.isEmpty {
            _ = try? call("DELETE", "/session/\(sessionID)")
            sessionID = ""
        }
        guard driver.isRunning else { return }
        // Children of the test process inherit its blocked signals, so SIGTERM may never arrive:
        // ask chromedriver to shut down, and kill it if it has not after a few seconds.
        _ = try? RawHTTP.send(port: driverPort, target: "/shutdown", timeoutSeconds: 5, stopAfterOneResponse: true)
        let deadline = Date().addingTimeInterval(5)
        while driver.isRunning && Date() < deadline { usleep(20_000) }
        if driver.isRunning { kill(driver.processIdentifier, SIGKILL) }
        driver.waitUntilExit()
    }

    // MARK: Navigation and scripts

    /// Loads `url` and waits for the page to load.
    public func open(_ url: String) throws { _ = try session("POST", "/url", ["url": url]) }

    /// The address of the current page.
    public func currentURL() throws -> String { try session("GET", "/url") as? String ?? "" }

    /// The current page's title.
    public func title() throws -> String { try session("GET", "/title") as? String ?? "" }

    /// Runs `script` (a function body; `arguments[i]` holds the arguments) and returns its result.
    @discardableResult
    public func run(_ script: String, _ arguments: [Any] = []) throws -> Any? {
        try session("POST", "/execute/sync", ["script": script, "args": arguments])
    }

    /// Runs `script` asynchronously: it calls `arguments[arguments.length - 1](result)` when done.
    @discardableResult
    public func runAsync(_ script: String, _ arguments: [Any] = []) throws -> Any? {
        try session("POST", "/execute/async", ["script": script, "args": arguments])
    }

    /// Waits until `script` returns true, for at most `seconds`.
    public func waitUntil(_ script: String, seconds: Double = 10) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while try run(script) as? Bool != true {
            guard Date() < deadline else { throw Failure(description: "timed out waiting for: \(script)") }
            usleep(50_000)
        }
    }

    // MARK: Elements

    /// An element reference.
    public struct Element: Sendable {
        public var id: String
        var json: [String: String] { [BrowserSession.elementKey: id] }
    }

    /// The first element matching `selector`.
    public func element(_ selector: String) throws -> Element {
        let value = try session("POST", "/element", ["using": "css selector", "value": selector])
        guard let object = value as? [String: Any], let id = object[Self.elementKey] as? String else {
            throw Failure(description: "no element matches \(selector)")
        }
        return Element(id: id)
    }

    /// Every element matching `selector`.
    public func elements(_ selector: String) throws -> [Element] {
        let value = try session("POST", "/elements", ["using": "css selector", "value": selector])
        return (value as? [[String: Any]] ?? []).compactMap { ($0[Self.elementKey] as? String).map(Element.init) }
    }

    /// The element that has the keyboard focus.
    public func focusedElement() throws -> Element {
        let value = try session("GET", "/element/active")
        guard let object = value as? [String: Any], let id = object[Self.elementKey] as? String else {
            throw Failure(description: "no element has the focus")
        }
        return Element(id: id)
    }

    /// Clicks `element` as a mouse would.
    public func click(_ element: Element) throws { _ = try session("POST", "/element/\(element.id)/click", [:]) }

    /// Empties a text field, then types `text` into it key by key, as a person would.
    public func type(_ text: String, into element: Element) throws {
        _ = try session("POST", "/element/\(element.id)/clear", [:])
        _ = try session("POST", "/element/\(element.id)/value", ["text": text])
    }

    /// The value of `property` (DOM property, such as `checked` or `name`) of `element`.
    public func property(_ element: Element, _ property: String) throws -> Any? {
        try session("GET", "/element/\(element.id)/property/\(property)")
    }

    /// Visible text of `element`.
    public func text(_ element: Element) throws -> String {
        try session("GET", "/element/\(element.id)/text") as? String ?? ""
    }

    /// Presses keys, as a person on a keyboard would, on whatever has the focus.
    public func press(_ keys: [Key]) throws {
        let actions: [[String: Any]] = keys.flatMap { key -> [[String: Any]] in
            [["type": "keyDown", "value": key.code], ["type": "keyUp", "value": key.code]]
        }
        _ = try session(
            "POST", "/actions", ["actions": [["type": "key", "id": "keyboard", "actions": actions]]])
        _ = try session("DELETE", "/actions")
    }

    /// Keys for `press`.
    public enum Key: Sendable {
        case tab, space, enter, arrowDown, arrowUp
        var code: String {
            switch self {
            case .tab: return "\u{E004}"
            case .space: return "\u{E00D}"
            case .enter: return "\u{E007}"
            case .arrowDown: return "\u{E015}"
            case .arrowUp: return "\u{E013}"
            }
        }
    }

    // MARK: What the page did

    /// A screenshot, and the size the browser says it should have.
    public struct Screenshot: Sendable {
        /// The PNG file's bytes.
        public var png: Data
        /// The viewport in device pixels when the shot was taken, which the PNG should measure.
        public var expectedWidth: Int, expectedHeight: Int
        /// For a whole-page shot, how many CSS pixels of the page lay below the window (0: none).
        public var pageHeightLeftOut = 0
    }

    /// A PNG of the viewport.
    /// The page printed to PDF by the browser (WebDriver's Print Page), with its print stylesheet.
    public func printedPDF() throws -> Data {
        guard let text = try session("POST", "/print", ["background": true]) as? String,
            let data = Data(base64Encoded: text)
        else {
            throw Failure(description: "the browser printed nothing")
        }
        return data
    }

    public func screenshot() throws -> Screenshot {
        guard let text = try session("GET", "/screenshot") as? String, let data = Data(base64Encoded: text) else {
            throw Failure(description: "no screenshot")
        }
        // A phone's shot is its emulated screen, whatever width the page lays out at (980 px without
        // a viewport meta tag); a desktop's is the window less its frame, which only the page knows.
        if viewport.isMobile {
            return Screenshot(
                png: data, expectedWidth: viewport.width * viewport.pixelRatio,
                expectedHeight: viewport.height * viewport.pixelRatio)
        }
        let size = try integers(
            "return [Math.round(innerWidth * devicePixelRatio), Math.round(innerHeight * devicePixelRatio)]", count: 2)
        return Screenshot(png: data, expectedWidth: size[0], expectedHeight: size[1])
    }

    /// A PNG of the whole page: the window grows to the page's height first (desktop only).
    public func fullPageScreenshot() throws -> Screenshot {
        let page = try integers(
            "return [Math.ceil(document.documentElement.scrollHeight), outerWidth, outerHeight - innerHeight]",
            count: 3)
        // The window's frame takes its share of the height (143 px in headless Chromium 156): the fixed
        // 120 px allowance this replaced cut the bottom 23 px off every page taller than the window.
        _ = try session("POST", "/window/rect", ["width": page[1], "height": min(page[0] + page[2], 8000)])
        var shot = try screenshot()
        let leftOut = try integers(
            "return [Math.ceil(document.documentElement.scrollHeight) - innerHeight]", count: 1)
        shot.pageHeightLeftOut = max(0, leftOut[0])
        return shot
    }

    /// Runs `script`, which returns `count` integers.
    private func integers(_ script: String, count: Int) throws -> [Int] {
        let value = try run(script)
        guard let numbers = value as? [Int], numbers.count == count else {
            throw Failure(description: "wanted \(count) integers from `\(script)`, got \(String(describing: value))")
        }
        return numbers
    }

    /// Console messages since the last call (`level`, `message`).
    public func consoleMessages() throws -> [(level: String, message: String)] {
        let entries = try session("POST", "/se/log", ["type": "browser"]) as? [[String: Any]] ?? []
        return entries.map { ($0["level"] as? String ?? "?", $0["message"] as? String ?? "") }
    }

    /// Cookies the browser holds for the current page (`name`, `value`, `httpOnly`, `sameSite`, ...).
    public func cookies() throws -> [[String: Any]] {
        try session("GET", "/cookie") as? [[String: Any]] ?? []
    }

    // MARK: Wire

    private func session(_ method: String, _ path: String, _ body: [String: Any]? = nil) throws -> Any? {
        try call(method, "/session/\(sessionID)" + path, body)
    }

    private func call(_ method: String, _ path: String, _ body: [String: Any]? = nil) throws -> Any? {
        let bytes = try body.map { Array(try JSONSerialization.data(withJSONObject: $0)) } ?? []
        let response = try RawHTTP.send(
            port: driverPort, method: method, target: path,
            headers: body == nil ? [:] : ["Content-Type": "application/json; charset=utf-8"], body: bytes,
            timeoutSeconds: 60, stopAfterOneResponse: true)
        let object = try JSONSerialization.jsonObject(with: Data(response.body), options: [.fragmentsAllowed])
        let value = (object as? [String: Any])?["value"]
        if response.status != 200 {
            let error = value as? [String: Any]
            throw Failure(
                description:
                    "WebDriver \(method) \(path) → \(response.status) \(error?["error"] ?? ""): \(error?["message"] ?? "")"
            )
        }
        return value is NSNull ? nil : value
    }

    /// A TCP port on 127.0.0.1 that nothing listens on right now.
    public static func freePort() throws -> Int {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(descriptor, pointer, length) == 0 && getsockname(descriptor, pointer, &length) == 0
            }
        }
        guard bound else { throw Failure(description: "cannot find a free port: errno \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
