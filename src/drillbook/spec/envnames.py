"""Which environment variables a drill's or a runbook's ``env:`` may not set, and why.

A drill may come from a less trusted colleague, and its ``env:`` reaches every check and service;
a runbook's reaches shell steps on the host. Some variables do not configure a program but make
the dynamic loader, the C library, a shell or a language runtime load or run code the variable
names, before the program's own first line: those are refused, whatever their value. The list is
complete for what drillbook's sandboxes and hosts run (glibc's ld.so and libc, sh/bash/zsh,
Python, Perl, Ruby, Node.js, Java, OpenSSL); the generated reference (docs/drill-spec.md) prints it.
"""

from __future__ import annotations

import re

ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"

# prefix -> who honours every variable starting with it
REFUSED_PREFIXES: dict[str, str] = {
    "LD_": "the dynamic loader (LD_PRELOAD, LD_LIBRARY_PATH, LD_AUDIT, ...) loads libraries it names "
           "into every program",
    "DYLD_": "the macOS dynamic loader loads libraries it names into every program",
    "BASH_FUNC_": "bash imports it as a function that replaces a command in every bash started",
}

# name -> what it makes run
REFUSED_NAMES: dict[str, str] = {
    "GCONV_PATH": "the C library loads character-conversion modules (shared libraries) from it",
    "GETCONF_DIR": "the C library runs getconf helpers from it",
    "GLIBC_TUNABLES": "it rewrites the C library's allocator internals in every program",
    "LOCPATH": "the C library parses locale files from it in every program",
    "NLSPATH": "the C library reads message catalogs (format strings) from it",
    "MALLOC_TRACE": "the C library writes an allocation trace over any file it names",
    "BASH_ENV": "every non-interactive bash runs the file it names first",
    "ENV": "sh and bash in POSIX mode run the file it names first",
    "ZDOTDIR": "zsh runs the start-up files of the folder it names",
    "IFS": "it changes how every shell splits words, and so what commands run",
    "SHELLOPTS": "it turns bash options on (xtrace makes PS4 run) in every bash started",
    "BASHOPTS": "it turns bash options on in every bash started",
    "PS4": "bash expands it, command substitutions included, for every traced command",
    "PROMPT_COMMAND": "bash runs it before each prompt",
    "PYTHONPATH": "Python imports modules from the folders it names before its own",
    "PYTHONHOME": "Python loads its whole standard library from the folder it names",
    "PYTHONSTARTUP": "interactive Python runs the file it names",
    "PYTHONUSERBASE": "Python runs the .pth files of the site-packages below it",
    "PYTHONPLATLIBDIR": "Python loads its extension modules from it",
    "PYTHONPYCACHEPREFIX": "Python runs the compiled bytecode it finds there",
    "PYTHONBREAKPOINT": "Python imports and calls what it names at every breakpoint()",
    "PYTHONWARNINGS": "Python imports the module of each warning category it names",
    "PERL5LIB": "Perl loads modules from the folders it names before its own",
    "PERLLIB": "Perl loads modules from the folders it names before its own",
    "PERL5OPT": "Perl adds its options (-M loads any module) to every perl run",
    "PERL5DB": "Perl runs it as the debugger",
    "RUBYOPT": "Ruby adds its options (-r loads any file) to every ruby run",
    "RUBYLIB": "Ruby loads libraries from the folders it names before its own",
    "NODE_OPTIONS": "Node.js adds its options (--require loads any file) to every node run",
    "NODE_PATH": "Node.js resolves modules from the folders it names",
    "JAVA_TOOL_OPTIONS": "every JVM adds its options (-javaagent loads any jar)",
    "_JAVA_OPTIONS": "every JVM adds its options (-javaagent loads any jar)",
    "JDK_JAVA_OPTIONS": "the java launcher adds its options (-javaagent loads any jar)",
    "OPENSSL_CONF": "OpenSSL reads it and loads the engines and providers it lists",
    "OPENSSL_ENGINES": "OpenSSL loads engines (shared libraries) from it",
    "OPENSSL_MODULES": "OpenSSL loads providers (shared libraries) from it",
}


def why_refused(name: str) -> str | None:
    """What setting ``name`` would make run, or None when it may be set."""
    if name in REFUSED_NAMES:
        return REFUSED_NAMES[name]
    return next((why for prefix, why in REFUSED_PREFIXES.items() if name.startswith(prefix)), None)


def check_env_name(name: str) -> str:
    """``name`` when an ``env:`` may set it; else ValueError saying why and what to do instead."""
    if not re.match(ENV_NAME, name):
        raise ValueError(f'"{name}" is not a variable name (letters, digits and _, not starting with a digit)')
    why = why_refused(name)
    if why is not None:
        raise ValueError(f'"{name}" may not be set in env: {why}. Remove it; if a program really needs '
                         f"it, set it on the one command that needs it (env {name}=... program), where "
                         "a reader sees it")
    return name


def check_env_value(value: str) -> str:
    """No NUL: it cannot be passed to a program and would fail the check that tried to."""
    if "\0" in value:
        raise ValueError("a value of env may not contain a NUL character (\\0)")
    return value


def documented() -> list[tuple[str, str]]:
    """(name or prefix*, why) for the reference: prefixes first, then by who honours them."""
    return [(f"{p}*", why) for p, why in REFUSED_PREFIXES.items()] + list(REFUSED_NAMES.items())
