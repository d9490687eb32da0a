#!/usr/bin/python3
# icloud-sign-in.py: a GTK 4 (libadwaita) sign-in window for libicloud-glib.
#
# Apple ID and password, then the second factor (a push to the trusted
# devices, an SMS to a phone the user picks, or a two-step code sent to a
# trusted device), errors as a GNOME app shows them (toasts; a banner with a
# countdown when Apple throttles), Cancel while anything is in flight, and
# the saved session restored on the next start: no password, no code.
#
# It talks to the server given by --endpoint-base or $ICLOUD_ENDPOINT_BASE
# (the fake iCloud server, icloud-mock-server); it refuses to start without
# one, so a demo never reaches Apple.
#
#   icloud-mock-server &                    # prints ICLOUD_MOCK_BASE_URI=...
#   ./icloud-sign-in.py --endpoint-base http://127.0.0.1:PORT
#
# --auto drives one whole sign-in without a person, for the test
# (examples/gtk/test-gtk-demo.py): the password comes from standard input,
# the second-factor code from the fake server's control API. With
# --load-accounts N, N more accounts sign in (password SRP) in the same
# process at the same time. --stats FILE writes the frame clock's timings
# recorded while the spinner turns; --screenshot FILE renders the window to
# a PNG with GTK's own snapshot.
#
# SPDX-License-Identifier: LGPL-2.1-or-later

import argparse
import json
import os
import sys

import gi

gi.require_version('Gtk', '4.0')
gi.require_version('Adw', '1')
gi.require_version('Soup', '3.0')
gi.require_version('ICloud', '1')
from gi.repository import Adw, Gio, GLib, Gtk, ICloud, Soup  # noqa: E402

APP_ID = 'org.example.ICloudSignIn'
AUTO_TIMEOUT_SECONDS = 45


def call(obj, name, *args, cancellable=None, done):
    """obj.NAME_async (*args, cancellable, callback), then done (value, error)."""
    def ready(source, result, _data):
        try:
            value = getattr(source, name + '_finish')(result)
        except GLib.Error as error:
            done(None, error)
            return
        done(value, None)
    getattr(obj, name + '_async')(*args, cancellable, ready, None)


def is_error(error, code):
    return error.matches(ICloud.error_quark(), code)


def is_cancelled(error):
    return error.matches(Gio.io_error_quark(), Gio.IOErrorEnum.CANCELLED)


MESSAGES = {
    ICloud.Error.FAILED_LOGIN: 'Wrong Apple ID or password',
    ICloud.Error.INVALID_CODE: 'Wrong code: check it and try again',
    ICloud.Error.ACCOUNT_LOCKED: 'This Apple ID is locked; unlock it at iforgot.apple.com',
    ICloud.Error.REPAIR_REQUIRED: 'Sign in at icloud.com once to accept Apple’s terms',
    ICloud.Error.SECURITY_KEY_REQUIRED: 'This Apple ID needs a security key, which this app cannot use',
    ICloud.Error.WRONG_REGION: 'This Apple ID belongs to another region',
    ICloud.Error.AUTH_REQUIRED: 'Apple asks to sign in again',
}


class FrameRecorder:
    """Frame clock timings while the spinner turns: the frame clock's own
    frame times (GdkFrameClock.get_frame_time) and the monotonic time at
    each paint, as intervals in milliseconds. pause () leaves a stretch out
    (the screenshot): no interval spans it.

    The app calls mark_ui () when it changes what is shown (a new page, a
    toast, text typed in): the next two frames lay out and draw that, in
    GTK, and are counted apart from the frames that only turn the spinner,
    which show what signing in costs the main loop."""

    UI_FRAMES = 2

    def __init__(self):
        self.segments = []          # [(frame_times, paint_times, ui_flags)]
        self.recording = False
        self.ui_pending = 0

    def attach(self, widget):
        clock = widget.get_frame_clock()
        clock.connect('after-paint', self.on_after_paint)

    def on_after_paint(self, clock):
        if self.recording:
            frame_times, paint_times, ui_flags = self.segments[-1]
            frame_times.append(clock.get_frame_time())
            paint_times.append(GLib.get_monotonic_time())
            ui_flags.append(self.ui_pending > 0)
        if self.ui_pending > 0:
            self.ui_pending -= 1

    def mark_ui(self):
        self.ui_pending = self.UI_FRAMES

    def start(self):
        self.segments = [([], [], [])]
        self.recording = True

    def pause(self):
        self.recording = False

    def resume(self):
        self.segments.append(([], [], []))
        self.recording = True

    def stop(self):
        self.recording = False

    def intervals(self, index, spinner_only=False):
        """Intervals between consecutive frames, in ms; spinner_only: only
        those ending in a frame that did not show a UI change."""
        values = []
        for segment in self.segments:
            times, ui = segment[index], segment[2]
            values += [(times[i] - times[i - 1]) / 1000.0 for i in range(1, len(times))
                       if not (spinner_only and ui[i])]
        return values

    @staticmethod
    def describe(values, bound_ms):
        values = sorted(values)
        if not values:
            return {'intervals': 0}
        return {
            'intervals': len(values),
            'median_ms': round(values[len(values) // 2], 2),
            'p99_ms': round(values[min(len(values) - 1, int(len(values) * 0.99))], 2),
            'max_ms': round(values[-1], 2),
            'over_bound': sum(1 for v in values if v > bound_ms),
        }

    def summary(self, bound_ms):
        result = {}
        for index, name in enumerate(('frame_clock', 'paint')):
            result[name] = self.describe(self.intervals(index), bound_ms)
            result[name + '_spinner_only'] = self.describe(self.intervals(index, True), bound_ms)
        result['bound_ms'] = round(bound_ms, 2)
        result['seconds'] = round(sum(self.intervals(1)) / 1000.0, 3)
        return result


class SignInWindow(Adw.ApplicationWindow):

    def __init__(self, app):
        super().__init__(application=app, title='iCloud', default_width=460, default_height=700)
        self.app = app
        self.session = None
        self.cancellable = None
        self.busy = 0
        self.phones = []
        self.devices = []
        self.code_route = None          # the phone or device the code went to
        self.throttle_left = 0
        self.throttle_source = 0
        self.on_state = None            # --auto: called on each new page

        self.toasts = Adw.ToastOverlay()
        view = Gtk.Box(orientation=Gtk.Orientation.VERTICAL)
        self.toasts.set_child(view)
        self.set_content(self.toasts)

        header = Adw.HeaderBar()
        self.cancel_button = Gtk.Button(label='Cancel', action_name='app.cancel', visible=False)
        header.pack_start(self.cancel_button)
        self.spinner = Gtk.Spinner(visible=False)
        header.pack_end(self.spinner)
        view.append(header)

        # A banner of our own (AdwBanner is libadwaita 1.3; Debian 12 has 1.2).
        self.banner_label = Gtk.Label(wrap=True, hexpand=True, xalign=0)
        banner_box = Gtk.Box(spacing=12, margin_start=12, margin_end=12, margin_top=6, margin_bottom=6)
        banner_box.append(Gtk.Image(icon_name='dialog-warning-symbolic'))
        banner_box.append(self.banner_label)
        banner_box.add_css_class('icloud-banner')
        self.banner = Gtk.Revealer(child=banner_box, reveal_child=False)
        view.append(self.banner)

        self.stack = Gtk.Stack(vexpand=True, transition_type=Gtk.StackTransitionType.CROSSFADE)
        view.append(self.stack)
        self.stack.add_named(self.build_restoring(), 'restoring')
        self.stack.add_named(self.build_sign_in(), 'sign-in')
        self.stack.add_named(self.build_two_factor(), 'two-factor')
        self.stack.add_named(self.build_two_step(), 'two-step')
        self.stack.add_named(self.build_signed_in(), 'signed-in')

    # Pages

    @staticmethod
    def page(child):
        clamp = Adw.Clamp(maximum_size=400, child=child, margin_top=24, margin_bottom=24,
                          margin_start=12, margin_end=12)
        return Gtk.ScrolledWindow(child=clamp, hscrollbar_policy=Gtk.PolicyType.NEVER)

    @staticmethod
    def title(text, subtitle):
        box = Gtk.Box(orientation=Gtk.Orientation.VERTICAL, spacing=6)
        label = Gtk.Label(label=text)
        label.add_css_class('title-1')
        box.append(label)
        sub = Gtk.Label(label=subtitle, wrap=True, justify=Gtk.Justification.CENTER)
        sub.add_css_class('dim-label')
        box.append(sub)
        return box

    @staticmethod
    def pill(label, action):
        button = Gtk.Button(label=label, action_name=action, halign=Gtk.Align.CENTER)
        button.add_css_class('pill')
        button.add_css_class('suggested-action')
        return button

    def build_restoring(self):
        status = Adw.StatusPage(title='Restoring your session', icon_name='network-server-symbolic')
        return status

    def build_sign_in(self):
        box = Gtk.Box(orientation=Gtk.Orientation.VERTICAL, spacing=24)
        box.append(self.title('Sign in to iCloud', 'Use your Apple ID'))
        group = Adw.PreferencesGroup()
        self.apple_id_row = Adw.EntryRow(title='Apple ID')
        self.password_row = Adw.PasswordEntryRow(title='Password')
        self.password_row.connect('entry-activated', lambda *a: self.app.activate_action('sign-in'))
        group.add(self.apple_id_row)
        group.add(self.password_row)
        box.append(group)
        box.append(self.pill('Sign In', 'app.sign-in'))
        return self.page(box)

    def build_two_factor(self):
        box = Gtk.Box(orientation=Gtk.Orientation.VERTICAL, spacing=24)
        box.append(self.title('Two-factor authentication',
                              'Choose where Apple sends the verification code'))
        self.route_group = Adw.PreferencesGroup()
        box.append(self.route_group)
        self.route_rows = []
        box.append(self.pill('Send Code', 'app.send-code'))
        code_group = Adw.PreferencesGroup()
        self.code_row = Adw.EntryRow(title='Verification code', input_purpose=Gtk.InputPurpose.DIGITS)
        self.code_row.connect('entry-activated', lambda *a: self.app.activate_action('verify'))
        code_group.add(self.code_row)
        box.append(code_group)
        box.append(self.pill('Verify', 'app.verify'))
        return self.page(box)

    def build_two_step(self):
        box = Gtk.Box(orientation=Gtk.Orientation.VERTICAL, spacing=24)
        box.append(self.title('Two-step verification', 'Choose a trusted device for the code'))
        self.device_group = Adw.PreferencesGroup()
        box.append(self.device_group)
        self.device_rows = []
        box.append(self.pill('Send Code', 'app.send-code'))
        code_group = Adw.PreferencesGroup()
        self.step_code_row = Adw.EntryRow(title='Verification code', input_purpose=Gtk.InputPurpose.DIGITS)
        code_group.add(self.step_code_row)
        box.append(code_group)
        box.append(self.pill('Verify', 'app.verify'))
        return self.page(box)

    def build_signed_in(self):
        self.done_page = Adw.StatusPage(title='Signed in', icon_name='emblem-ok-symbolic')
        button = Gtk.Button(label='Sign Out', action_name='app.sign-out', halign=Gtk.Align.CENTER)
        button.add_css_class('pill')
        self.done_page.set_child(button)
        return self.done_page

    def show_page(self, name):
        self.app.frames.mark_ui()
        self.stack.set_visible_child_name(name)
        if self.on_state is not None:
            GLib.idle_add(self.on_state, name)

    def choice_rows(self, group, old_rows, entries):
        for row in old_rows:
            group.remove(row)
        rows, first = [], None
        for title, subtitle in entries:
            check = Gtk.CheckButton(valign=Gtk.Align.CENTER)
            if first is None:
                first = check
                check.set_active(True)
            else:
                check.set_group(first)
            row = Adw.ActionRow(title=title, subtitle=subtitle, activatable_widget=check)
            row.add_prefix(check)
            group.add(row)
            rows.append((row, check))
        return rows

    @staticmethod
    def chosen(rows):
        for i, (_row, check) in enumerate(rows):
            if check.get_active():
                return i
        return 0

    def choose(self, rows, index):
        rows[index][1].set_active(True)

    # Busy state: spinner, Cancel, actions

    def begin(self):
        self.busy += 1
        if self.cancellable is None:
            self.cancellable = Gio.Cancellable()
        self.update_busy()
        return self.cancellable

    def end(self):
        self.busy -= 1
        if self.busy == 0:
            self.cancellable = None
        self.update_busy()

    def update_busy(self):
        spinning = self.busy > 0 or self.app.keep_spinning
        if self.cancel_button.get_visible() != (self.busy > 0):
            self.app.frames.mark_ui()
        self.spinner.set_visible(spinning)
        self.spinner.set_spinning(spinning)
        self.cancel_button.set_visible(self.busy > 0)
        self.app.update_actions()

    def toast(self, text):
        self.app.frames.mark_ui()
        self.toasts.add_toast(Adw.Toast(title=GLib.markup_escape_text(text), timeout=5))

    def show_error(self, error, session=None):
        if is_cancelled(error):
            self.toast('Cancelled')
        elif is_error(error, ICloud.Error.THROTTLED):
            seconds = session.get_retry_after() if session is not None else 0
            self.throttle(seconds)
        else:
            self.toast(MESSAGES.get(error.code, error.message)
                       if error.matches(ICloud.error_quark(), error.code) else error.message)
        self.app.report_error(error)

    def throttle(self, seconds):
        """Apple asked to wait: say so in the banner, count down, and keep
        Sign In off until then (no retry-after: just say it)."""
        if self.throttle_source:
            GLib.source_remove(self.throttle_source)
            self.throttle_source = 0
        self.throttle_left = seconds
        if seconds <= 0:
            self.banner_label.set_text('Apple is busy and asks to try again later')
            self.banner.set_reveal_child(True)
            return

        def tick():
            if self.throttle_left <= 0:
                self.banner.set_reveal_child(False)
                self.throttle_source = 0
                self.app.update_actions()
                return GLib.SOURCE_REMOVE
            self.banner_label.set_text(
                f'Apple asks to wait before the next try: {self.throttle_left} s')
            self.throttle_left -= 1
            return GLib.SOURCE_CONTINUE
        tick()
        self.banner.set_reveal_child(True)
        self.throttle_source = GLib.timeout_add_seconds(1, tick)
        self.app.update_actions()


class SignInApp(Adw.Application):

    def __init__(self, options, password):
        super().__init__(application_id=APP_ID, flags=Gio.ApplicationFlags.NON_UNIQUE)
        self.options = options
        self.auto_password = password
        self.endpoint = ICloud.Endpoint.new_for_base_uri(options.endpoint_base)
        self.directory = options.cookie_directory
        self.window = None
        self.frames = FrameRecorder()
        self.keep_spinning = False
        self.load_sessions = []
        self.load_left = 0
        self.load_failed = 0
        self.restored = False
        self.exit_status = 0
        self.baseline = None
        self.screenshot_error = None
        self.soup = Soup.Session()
        self.actions = {}
        for name in ('sign-in', 'send-code', 'verify', 'cancel', 'sign-out'):
            action = Gio.SimpleAction(name=name)
            action.connect('activate', getattr(self, 'on_' + name.replace('-', '_')))
            self.add_action(action)
            self.actions[name] = action

    def last_account_file(self):
        return os.path.join(self.directory, 'last-apple-id')

    def do_activate(self):
        if self.window is None:
            self.window = SignInWindow(self)
            if self.options.auto:
                self.window.on_state = self.auto_step
                GLib.timeout_add_seconds(AUTO_TIMEOUT_SECONDS, self.auto_timeout)
            self.window.connect('realize', lambda w: self.frames.attach(w))
            css = Gtk.CssProvider()
            css.load_from_data(b'.icloud-banner { background: alpha(@warning_color, 0.2); '
                               b'border-radius: 6px; }')
            Gtk.StyleContext.add_provider_for_display(self.window.get_display(), css,
                                                      Gtk.STYLE_PROVIDER_PRIORITY_APPLICATION)
            self.restore()
        self.window.present()

    def update_actions(self):
        w = self.window
        idle = w.busy == 0
        page = w.stack.get_visible_child_name()
        self.actions['sign-in'].set_enabled(idle and page == 'sign-in' and w.throttle_left <= 0)
        self.actions['send-code'].set_enabled(idle and page in ('two-factor', 'two-step'))
        self.actions['verify'].set_enabled(idle and page in ('two-factor', 'two-step'))
        self.actions['cancel'].set_enabled(not idle)
        self.actions['sign-out'].set_enabled(idle and page == 'signed-in')

    # The saved session: the next start needs no password and no code.

    def restore(self):
        apple_id = None
        try:
            with open(self.last_account_file(), encoding='utf-8') as f:
                apple_id = f.read().strip() or None
        except OSError:
            pass
        if apple_id is None:
            self.window.show_page('sign-in')
            self.update_actions()
            return
        self.window.apple_id_row.set_text(apple_id)
        self.window.show_page('restoring')
        session = self.new_session(apple_id, None)
        cancellable = self.window.begin()

        def done(_value, error):
            self.window.end()
            if error is None and session.props.state == ICloud.AuthState.AUTHENTICATED:
                self.restored = True
                self.signed_in(session)
            else:
                # Nothing usable saved (signed out, expired): ask for the password.
                self.window.show_page('sign-in')
                self.update_actions()
        call(session, 'init', GLib.PRIORITY_DEFAULT, cancellable=cancellable, done=done)

    def new_session(self, apple_id, password, directory=None):
        return ICloud.Session(apple_id=apple_id, password=password, endpoint=self.endpoint,
                              cookie_directory=directory or self.directory)

    def operation(self, session, name, *args, then=None, always=None):
        """session.NAME_async (*args) with the spinner and Cancel on, the
        error shown as the app shows errors; then (value) on success, and
        always () in either case."""
        w = self.window
        cancellable = w.begin()

        def done(value, error):
            w.end()
            if error is not None:
                w.show_error(error, session)
            elif then is not None:
                then(value)
            if always is not None:
                always()
        call(session, name, *args, cancellable=cancellable, done=done)

    # Actions

    def on_sign_in(self, _action, _param):
        w = self.window
        apple_id = w.apple_id_row.get_text().strip()
        password = w.password_row.get_text()
        if not apple_id or not password:
            w.toast('Enter your Apple ID and password')
            return
        session = self.new_session(apple_id, password)
        # The entry keeps no copy once the session has it.
        w.password_row.set_text('')
        self.operation(session, 'init', GLib.PRIORITY_DEFAULT,
                       then=lambda _ok: self.session_ready(session))

    def session_ready(self, session):
        w = self.window
        w.session = session
        state = session.props.state
        with open(self.last_account_file(), 'w', encoding='utf-8') as f:
            f.write(session.props.apple_id + '\n')
        if state == ICloud.AuthState.AUTHENTICATED:
            self.signed_in(session)
        elif state == ICloud.AuthState.NEEDS_2FA:
            def got_phones(phones):
                w.phones = [phones.get_item(i) for i in range(phones.get_n_items())]
                entries = [('Trusted devices', 'A notification on your iPhone, iPad or Mac')]
                entries += [(f'Text message to {p.get_obfuscated_number()}', f'Phone {p.get_id()}')
                            for p in w.phones]
                w.route_rows = w.choice_rows(w.route_group, w.route_rows, entries)
                w.show_page('two-factor')
                self.update_actions()
            self.operation(session, 'get_trusted_phone_numbers', then=got_phones)
        elif state == ICloud.AuthState.NEEDS_2SA:
            def got_devices(devices):
                w.devices = [devices.get_item(i) for i in range(devices.get_n_items())]
                w.device_rows = w.choice_rows(w.device_group, w.device_rows,
                                              [(d.get_phone_number() or d.get_device_type(),
                                                f'Device {d.get_id()}') for d in w.devices])
                w.show_page('two-step')
                self.update_actions()
            self.operation(session, 'get_trusted_devices', then=got_devices)
        elif state == ICloud.AuthState.NEEDS_SECURITY_KEY:
            w.toast(MESSAGES[ICloud.Error.SECURITY_KEY_REQUIRED])

    def on_send_code(self, _action, _param):
        w = self.window

        def sent(_ok):
            w.toast('Code sent')
            if self.options.auto:
                self.auto_fetch_code()

        if w.stack.get_visible_child_name() == 'two-factor':
            index = w.chosen(w.route_rows)
            w.code_route = None if index == 0 else w.phones[index - 1]
            self.operation(w.session, 'request_2fa_code', w.code_route, then=sent)
        else:
            w.code_route = w.devices[w.chosen(w.device_rows)]
            self.operation(w.session, 'send_verification_code', w.code_route, then=sent)

    def on_verify(self, _action, _param):
        w = self.window
        session = w.session

        def verified(_ok):
            if session.props.state == ICloud.AuthState.AUTHENTICATED:
                self.signed_in(session)

        if w.stack.get_visible_child_name() == 'two-factor':
            code = w.code_row.get_text().strip()
            w.code_row.set_text('')
            self.operation(session, 'validate_2fa_code', code, then=verified)
        else:
            code = w.step_code_row.get_text().strip()
            w.step_code_row.set_text('')
            self.operation(session, 'validate_verification_code', w.code_route, code,
                           then=verified)

    def on_cancel(self, _action, _param):
        if self.window.cancellable is not None:
            self.window.cancellable.cancel()

    def on_sign_out(self, _action, _param):
        w = self.window

        def forget():
            try:
                os.unlink(self.last_account_file())
            except OSError:
                pass
            w.session = None
            w.show_page('sign-in')
            self.update_actions()
        self.operation(w.session, 'logout', False, False, always=forget)

    def signed_in(self, session):
        w = self.window
        w.session = session
        name = session.props.account_name or session.props.apple_id
        w.done_page.set_description(
            f'{name}\n' + ('Restored from the saved session' if self.restored
                           else 'This computer is now trusted'))
        w.show_page('signed-in')
        self.update_actions()

    def report_error(self, error):
        """--auto: what the window showed, as one JSON line, then exit 1."""
        if not self.options.auto:
            return
        w = self.window
        shown = {'error': error.message,
                 'banner': w.banner_label.get_text() if w.banner.get_reveal_child() else None,
                 'sign_in_enabled': self.actions['sign-in'].get_enabled()}
        print(json.dumps(shown))
        self.exit_status = 1
        self.quit()

    # --auto: one whole sign-in, no person

    def auto_step(self, page):
        w = self.window
        if page == 'sign-in' and self.options.baseline_seconds > 0 and self.baseline is None:
            # First the spinner alone: what this machine gives with no
            # sign-in at all, to read the figures below against.
            self.start_measuring()
            self.baseline = {}

            def measured():
                self.frames.stop()
                self.baseline = self.frames.summary(self.options.frame_bound_ms)
                self.auto_step('sign-in')
                return GLib.SOURCE_REMOVE
            GLib.timeout_add(int(self.options.baseline_seconds * 1000), measured)
        elif page == 'sign-in':
            self.frames.mark_ui()
            w.apple_id_row.set_text(self.options.apple_id)
            w.password_row.set_text(self.auto_password or '')
            self.auto_password = None
            self.start_measuring()
            self.start_load()
            self.activate_action('sign-in')
        elif page == 'two-factor':
            if self.options.sms is not None:
                ids = [p.get_id() for p in w.phones]
                self.frames.mark_ui()
                w.choose(w.route_rows, ids.index(self.options.sms) + 1)
            self.activate_action('send-code')
        elif page == 'two-step':
            self.activate_action('send-code')
        elif page == 'signed-in':
            self.auto_finish()
        return GLib.SOURCE_REMOVE

    def auto_fetch_code(self):
        """The code, from the fake server's control API (where a real user
        reads it on a device): asynchronously, the frames keep coming."""
        w = self.window
        target = ''
        if w.code_route is not None:
            target = '&target=' + GLib.Uri.escape_string(w.code_route.get_id(), None, False)
        uri = (f'{self.options.endpoint_base}/_mock/code?apple_id='
               f'{GLib.Uri.escape_string(w.session.props.apple_id, None, False)}{target}')
        message = Soup.Message.new('GET', uri)
        w.begin()

        def done(soup, result, _data):
            w.end()
            try:
                body = soup.send_and_read_finish(result)
                code = json.loads(body.get_data().decode())['code']
            except (GLib.Error, KeyError, ValueError) as error:
                print(f'icloud-sign-in: no code from the fake server: {error}', file=sys.stderr)
                self.exit_status = 1
                self.quit()
                return
            row = w.code_row if w.stack.get_visible_child_name() == 'two-factor' else w.step_code_row
            self.frames.mark_ui()
            row.set_text(code)
            if self.options.screenshot and self.screenshot_error is None:
                def shot_done(error):
                    self.screenshot_error = error or ''
                    self.frames.resume()
                    self.activate_action('verify')
                self.frames.pause()

                def settled():
                    # After the page's crossfade, and one more frame.
                    if w.stack.get_transition_running():
                        return GLib.SOURCE_CONTINUE
                    GLib.timeout_add(100, lambda: self.screenshot(self.options.screenshot,
                                                                  shot_done) and False)
                    return GLib.SOURCE_REMOVE
                GLib.timeout_add(50, settled)
            else:
                self.activate_action('verify')
        self.soup.send_and_read_async(message, GLib.PRIORITY_DEFAULT, None, done, None)

    def start_measuring(self):
        self.keep_spinning = True
        self.window.update_busy()
        self.frames.start()

    def start_load(self):
        """--load-accounts N: N more accounts sign in now, in this process."""
        n = self.options.load_accounts
        self.load_left = n
        for i in range(n):
            apple_id = self.options.load_pattern.format(i + 1)
            directory = os.path.join(self.directory, 'load')
            session = self.new_session(apple_id, self.options.load_password, directory)
            self.load_sessions.append(session)

            def done(_value, error, session=session):
                self.load_left -= 1
                if error is not None or session.props.state != ICloud.AuthState.AUTHENTICATED:
                    self.load_failed += 1
                    print(f'icloud-sign-in: load account {session.props.apple_id}: '
                          f'{error.message if error else session.props.state}', file=sys.stderr)
                if self.load_left == 0 and self.window.stack.get_visible_child_name() == 'signed-in':
                    self.auto_finish()
            call(session, 'init', GLib.PRIORITY_DEFAULT, done=done)

    def auto_finish(self):
        if self.load_left > 0:
            return          # called again when the last load account is in
        self.frames.stop()
        self.keep_spinning = False
        self.window.update_busy()
        self.auto_report()

    def auto_report(self):
        w = self.window
        screenshot_error = self.screenshot_error
        result = {
            'state': w.session.props.state.value_nick if w.session else None,
            'restored': self.restored,
            'apple_id': w.session.props.apple_id if w.session else None,
            'load_accounts': self.options.load_accounts,
            'load_failed': self.load_failed,
            'renderer': type(w.get_native().get_renderer()).__name__,
            'screenshot': self.options.screenshot if self.screenshot_error == '' else None,
        }
        if not self.restored:
            result['frames'] = self.frames.summary(self.options.frame_bound_ms)
        if self.baseline:
            result['baseline_frames'] = self.baseline
        if self.options.stats:
            with open(self.options.stats, 'w', encoding='utf-8') as f:
                json.dump(result, f, indent=2)
                f.write('\n')
        print(json.dumps(result))
        if screenshot_error:
            print(f'icloud-sign-in: screenshot: {screenshot_error}', file=sys.stderr)
        if self.load_failed or screenshot_error:
            self.exit_status = 1
        self.quit()

    def screenshot(self, path, done):
        """The window as the X server shows it, with ImageMagick's import
        (PyGObject 3.42 cannot hold the GskRenderNode of GTK's own
        snapshot). X11 only; run without waiting for it."""
        try:
            gi.require_version('GdkX11', '4.0')
            from gi.repository import GdkX11
            xid = GdkX11.X11Surface.get_xid(self.window.get_surface())
            process = Gio.Subprocess.new(['import', '-window', hex(xid), path],
                                         Gio.SubprocessFlags.STDERR_PIPE)
        except (GLib.Error, ValueError, TypeError, AttributeError) as error:
            done(str(error))
            return

        def finished(process, result, _data):
            try:
                _ok, _out, err = process.communicate_utf8_finish(result)
            except GLib.Error as error:
                done(error.message)
                return
            done(None if process.get_successful() else f'import failed: {err.strip()}')
        process.communicate_utf8_async(None, None, finished, None)

    def auto_timeout(self):
        print(f'icloud-sign-in: --auto did not finish in {AUTO_TIMEOUT_SECONDS} s '
              f'(page {self.window.stack.get_visible_child_name()})', file=sys.stderr)
        self.exit_status = 2
        self.quit()
        return GLib.SOURCE_REMOVE


def main():
    parser = argparse.ArgumentParser(description='Sign in to iCloud (GTK 4 demo of libicloud-glib)')
    parser.add_argument('--endpoint-base', default=os.environ.get('ICLOUD_ENDPOINT_BASE'),
                        help='the fake iCloud server (default: $ICLOUD_ENDPOINT_BASE)')
    parser.add_argument('--cookie-directory',
                        default=os.path.join(GLib.get_user_state_dir(), 'icloud-sign-in-demo'),
                        help='where sessions are saved')
    parser.add_argument('--auto', action='store_true',
                        help='sign in without a person (password on standard input)')
    parser.add_argument('--apple-id', default='2fa@example.com', help='--auto: the Apple ID')
    parser.add_argument('--sms', metavar='PHONE_ID', help='--auto: an SMS to this phone, not a push')
    parser.add_argument('--load-accounts', type=int, default=0, metavar='N',
                        help='--auto: N more accounts sign in at the same time')
    parser.add_argument('--load-pattern', default='load{}@example.com',
                        help='--auto: their Apple IDs ({} is 1..N)')
    parser.add_argument('--stats', metavar='FILE', help='--auto: the frame timings, as JSON')
    parser.add_argument('--frame-bound-ms', type=float, default=2 * 16.7,
                        help='--auto: the interval counted as a late frame')
    parser.add_argument('--baseline-seconds', type=float, default=0, metavar='S',
                        help='--auto: first record S seconds of the spinner alone')
    parser.add_argument('--screenshot', metavar='FILE',
                        help='--auto: a PNG of the window on the code page, code typed in')
    options = parser.parse_args()

    if not options.endpoint_base:
        parser.error('no server: give --endpoint-base URL or set ICLOUD_ENDPOINT_BASE '
                     '(start icloud-mock-server for one); this demo never talks to Apple')
    os.makedirs(options.cookie_directory, mode=0o700, exist_ok=True)

    password = None
    if options.auto:
        # One line: the account's password; the load accounts share it.
        password = sys.stdin.readline().rstrip('\n')
    options.load_password = password

    app = SignInApp(options, password)
    status = app.run([sys.argv[0]])
    return app.exit_status or status


if __name__ == '__main__':
    sys.exit(main())
