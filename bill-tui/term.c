/*
 * term.c — the terminal guard: start curses, and give the terminal back the
 * way it was on every way out (RustBill's TerminalGuard):
 *
 *   - normal exit and exit() from anywhere: term_stop (also run by atexit)
 *     ends curses, which restores the saved tty modes and leaves the
 *     alternate screen;
 *   - SIGINT, SIGTERM, SIGHUP, SIGQUIT: the handler only records the signal;
 *     the key loop (which wakes at least every 250 ms) sees it, stops curses
 *     and exits. Should it not get there (a second signal while, say, a
 *     database call hangs), the handler restores the terminal itself and
 *     exits at once;
 *   - crashes (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT): the handler writes
 *     the terminal's own "leave the alternate screen, show the cursor, reset
 *     attributes, keypad off" sequence (taken from terminfo at start, so
 *     nothing is assumed beyond TERM) and puts back the tty modes saved
 *     before curses started — write() and tcsetattr() are async-signal-safe
 *     — then hands the signal to whoever had it before (the default action,
 *     or AddressSanitizer's reporter), so the crash is still reported.
 *
 * SIGWINCH and SIGTSTP are left to ncurses (a resize arrives as KEY_RESIZE;
 * Ctrl-Z suspends and restores the screen). Handlers are installed before
 * newterm(), so ncurses keeps ours for the others.
 */
#include "tui.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <term.h>
#include <termios.h>
#include <unistd.h>

static struct termios saved_tio;
static bool have_tio;
static SCREEN *screen;
static volatile sig_atomic_t quit_sig;
static volatile sig_atomic_t curses_on;
static char restore_seq[512];
static size_t restore_len;

static const int quit_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
static const int crash_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
static struct sigaction old_crash[sizeof crash_signals / sizeof crash_signals[0]];

/* Async-signal-safe: only write() and tcsetattr(). */
static void emergency_restore(void)
{
    if (!curses_on)
        return;
    curses_on = 0;
    if (restore_len) {
        ssize_t w = write(STDOUT_FILENO, restore_seq, restore_len);
        (void)w;
    }
    if (have_tio)
        tcsetattr(STDIN_FILENO, TCSANOW, &saved_tio);
}

static void on_quit(int sig)
{
    if (quit_sig) {
        /* asked twice: the loop did not get to it; leave now */
        emergency_restore();
        _exit(128 + sig);
    }
    quit_sig = sig;
}

static void on_crash(int sig, siginfo_t *si, void *uc)
{
    (void)si;
    (void)uc;
    emergency_restore();
    for (size_t i = 0; i < sizeof crash_signals / sizeof crash_signals[0]; i++)
        if (crash_signals[i] == sig)
            sigaction(sig, &old_crash[i], NULL);
    /* A fault re-executes and meets the previous handler; a raised or sent
     * signal is delivered to it as soon as this handler returns. */
    raise(sig);
}

static void stop_at_exit(void)
{
    term_stop();
}

void term_guard_install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_quit;
    for (size_t i = 0; i < sizeof quit_signals / sizeof quit_signals[0]; i++)
        sigaction(quit_signals[i], &sa, NULL);

    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_sigaction = on_crash;
    sa.sa_flags = SA_SIGINFO;
    for (size_t i = 0; i < sizeof crash_signals / sizeof crash_signals[0]; i++)
        sigaction(crash_signals[i], &sa, &old_crash[i]);
    atexit(stop_at_exit);
}

int term_quit_signal(void)
{
    return quit_sig;
}

/* tputs() output collector for the emergency sequence (padding handled). */
static int collect(int c)
{
    if (restore_len < sizeof restore_seq)
        restore_seq[restore_len++] = (char)c;
    return c;
}

static void add_cap(const char *name)
{
    char *s = tigetstr(name);
    if (s && s != (char *)-1)
        tputs(s, 1, collect);
}

const char *term_start(bool *color)
{
    static char msg[256];
    const char *term = getenv("TERM");
    if (!term || !*term) {
        snprintf(msg, sizeof msg, "TERM is not set; set it to your terminal's type "
                                  "(e.g. TERM=xterm-256color)");
        return msg;
    }
    have_tio = tcgetattr(STDIN_FILENO, &saved_tio) == 0;
    if (!(screen = newterm(NULL, stdout, stdin))) {
        snprintf(msg, sizeof msg, "cannot drive a terminal of type \"%.64s\" (no terminfo entry; "
                                  "set TERM to your terminal's type, e.g. xterm-256color)", term);
        return msg;
    }
    set_term(screen);
    restore_len = 0;
    add_cap("rmcup");
    add_cap("sgr0");
    add_cap("cnorm");
    add_cap("rmkx");
    curses_on = 1;

    cbreak();
    noecho();
    nonl();
    intrflush(stdscr, FALSE);
    keypad(stdscr, TRUE);
    set_escdelay(25);
    curs_set(0);
    const char *no_color = getenv("NO_COLOR");
    *color = has_colors() && !(no_color && *no_color);
    if (*color) {
        start_color();
        use_default_colors();
    }
    return NULL;
}

void term_stop(void)
{
    if (!screen)
        return;
    if (curses_on) {
        keypad(stdscr, FALSE); /* keypad transmit mode off (rmkx) */
        curs_set(1);
        endwin();
        curses_on = 0;
    }
    if (have_tio)
        tcsetattr(STDIN_FILENO, TCSANOW, &saved_tio);
    fflush(stdout);
    delscreen(screen);
    screen = NULL;
}

#if defined(__SANITIZE_ADDRESS__)
/* Sanitizer builds only. When newterm() fails (no terminfo entry for TERM)
 * ncurses 6.4 drops the pre-screen it allocated in new_prescr() without
 * freeing it: a one-off leak inside libtinfo, just before bill-tui exits
 * with its message. Not ours to free (ncurses gives no handle to it), so
 * LeakSanitizer is told to ignore exactly that allocation site. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:new_prescr\n";
}
#endif
