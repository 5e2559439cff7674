"""Unit tests: Dockerfile parser, word expansion, stages, .dockerignore rules, cache keys and checksums."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dockyard.builder.cache import checksum_paths, step_key
from dockyard.util.dockerignore import IgnoreMatcher, read_patterns
from dockyard.builder.metadata import StageState, apply, parse_duration
from dockyard.builder.parser import ParseError, key_values, parse
from dockyard.builder.stages import make_plan
from dockyard.builder.words import Lexer
from dockyard.errors import InvalidParameter


def one(text: str):
    return parse(text).instructions[-1]


def test_directives_and_comments() -> None:
    df = parse("# syntax=docker/dockerfile:1\n# escape=`\n# comment\nFROM busybox\n")
    assert df.directives == {"syntax": "docker/dockerfile:1", "escape": "`"}
    assert df.escape == "`"
    assert [i.cmd for i in df.instructions] == ["from"]


def test_directive_after_comment_is_a_comment() -> None:
    df = parse("# hello\n# escape=`\nFROM busybox\n")
    assert df.escape == "\\" and df.directives == {}


def test_line_continuation_skips_comments_and_blank_lines() -> None:
    inst = one("FROM b\nRUN echo a \\\n# inside\n\n   b\n")
    assert inst.rest == "echo a    b"
    assert inst.line == 2


def test_backtick_escape_continuation() -> None:
    inst = one("# escape=`\nFROM b\nRUN dir c:\\ `\n  /s\n")
    assert inst.rest == "dir c:\\   /s"


def test_exec_and_shell_forms() -> None:
    assert one('FROM b\nCMD ["sh", "-c", "x"]').exec_form == ["sh", "-c", "x"]
    assert one("FROM b\nCMD [not json").exec_form is None
    assert one("FROM b\nRUN echo [x]").exec_form is None


def test_flags_are_split_off() -> None:
    inst = one("FROM b\nCOPY --from=build --chown=1:2 --chmod=644 a b /c/")
    assert inst.flag("from") == "build" and inst.flag("chown") == "1:2" and inst.flag("chmod") == "644"
    assert inst.rest == "a b /c/"
    run = one('FROM b\nRUN --mount=type=cache,target=/c --mount="type=bind,from=x,target=/y" ls')
    assert run.flag_values("mount") == ["type=cache,target=/c", "type=bind,from=x,target=/y"]
    assert run.rest == "ls"


def test_heredocs() -> None:
    df = parse("FROM b\nRUN <<EOF\necho one\necho two\nEOF\nCOPY <<-'A' <<B /dst/\n\tliteral $X\n\tA\nexp $X\nB\nCMD x\n")
    run, copy, cmd = df.instructions[1:]
    assert run.heredocs[0].content == "echo one\necho two\n" and run.heredocs[0].expand
    assert copy.heredocs[0].content == "literal $X\n" and not copy.heredocs[0].expand
    assert copy.heredocs[1].content == "exp $X\n" and copy.heredocs[1].expand
    assert cmd.cmd == "cmd" and cmd.line == 11


def test_unterminated_heredoc() -> None:
    with pytest.raises(ParseError, match="unterminated heredoc"):
        parse("FROM b\nRUN <<EOF\necho\n")


def test_unknown_instruction_names_line() -> None:
    with pytest.raises(ParseError, match="line 2: unknown instruction: FROOM"):
        parse("FROM b\nFROOM x\n")


def test_every_instruction_parses() -> None:
    text = ("ARG V=1\nFROM --platform=linux/amd64 busybox:${V} AS base\nRUN true\nCMD x\nENTRYPOINT [\"a\"]\n"
            "ENV A=1\nARG B\nLABEL a=b\nEXPOSE 80\nVOLUME /v\nUSER u\nWORKDIR /w\nCOPY a b\nADD a b\n"
            "SHELL [\"/bin/sh\", \"-c\"]\nSTOPSIGNAL SIGTERM\nHEALTHCHECK CMD true\nONBUILD RUN x\nMAINTAINER me\n")
    assert [i.cmd for i in parse(text).instructions] == [
        "arg", "from", "run", "cmd", "entrypoint", "env", "arg", "label", "expose", "volume", "user", "workdir",
        "copy", "add", "shell", "stopsignal", "healthcheck", "onbuild", "maintainer"]


@pytest.mark.parametrize("trigger", ["ONBUILD ONBUILD RUN x", "ONBUILD FROM x", "ONBUILD MAINTAINER x"])
def test_onbuild_forbidden_triggers(trigger: str) -> None:
    with pytest.raises(ParseError, match="isn't allowed as an ONBUILD trigger"):
        parse(f"FROM b\n{trigger}\n")


def test_key_values_new_and_legacy() -> None:
    assert key_values(one('FROM b\nENV A=1 B="two words" C=a\\ b')) == [("A", "1"), ("B", '"two words"'),
                                                                       ("C", "a\\ b")]
    assert key_values(one("FROM b\nENV A the rest")) == [("A", "the rest")]
    with pytest.raises(ParseError):
        key_values(one("FROM b\nENV A=1 B"))


@pytest.mark.parametrize("word,expected", [
    ("$A", "1"), ("${A}", "1"), ("${UNSET:-dflt}", "dflt"), ("${EMPTY:-dflt}", "dflt"), ("${EMPTY-dflt}", ""),
    ("${A:+alt}", "alt"), ("${UNSET:+alt}", ""), ("${EMPTY+alt}", "alt"), ("'$A'", "$A"), ('"$A b"', "1 b"),
    ("\\$A", "$A"), ("${UNSET:-${A}x}", "1x"), ("a$", "a$"), ("$A$A", "11"),
])
def test_substitution(word: str, expected: str) -> None:
    assert Lexer({"A": "1", "EMPTY": ""}).word(word) == expected


def test_substitution_errors_and_usage_tracking() -> None:
    lexer = Lexer({"A": "1"})
    assert lexer.words("$A ${B:-x} 'c d'") == ["1", "x", "c d"]
    assert lexer.used == {"A", "B"}
    with pytest.raises(InvalidParameter, match="must be set"):
        Lexer({}).word("${X:?must be set}")
    with pytest.raises(InvalidParameter):
        Lexer({}).word("'unterminated")


def test_arg_scoping_in_stages() -> None:
    df = parse("ARG TAG=1\nARG IMG=busybox\nFROM ${IMG}:${TAG} AS a\nFROM a\nFROM scratch AS last\n")
    plan = make_plan(df, {"TAG": "2"}, "")
    assert [s.base for s in plan.stages] == ["busybox:2", "a", "scratch"]
    assert plan.stages[1].deps == {0}
    assert plan.needed == [2]
    assert make_plan(df, {}, "a").needed == [0]


def test_stage_dependencies_and_target() -> None:
    df = parse("FROM busybox AS x\nFROM busybox AS y\nFROM busybox\nCOPY --from=x /a /a\nRUN --mount=from=1,target=/m ls\n")
    plan = make_plan(df, {}, "")
    assert plan.needed == [0, 1, 2]
    assert make_plan(df, {}, "y").needed == [1]
    with pytest.raises(InvalidParameter, match="failed to reach build target nope"):
        make_plan(df, {}, "nope")


def test_cycle_between_stages() -> None:
    df = parse("FROM busybox AS a\nCOPY --from=b /x /x\nFROM busybox AS b\nCOPY --from=a /y /y\n")
    with pytest.raises(InvalidParameter, match="circular dependency"):
        make_plan(df, {}, "b")


def test_instruction_before_from() -> None:
    with pytest.raises(ParseError):
        make_plan(parse("RUN x\nFROM busybox\n"), {}, "")


def test_metadata_instructions_change_config() -> None:
    state = StageState(config={"Env": ["PATH=/bin"], "Cmd": ["sh"]}, args={"V": "9"})
    for line in ["ENV A=$V B=\"x y\"", "LABEL l=${A}", "WORKDIR /app", "WORKDIR sub", "EXPOSE 80 53/udp",
                 "USER nobody", "ENTRYPOINT [\"/e\"]", "VOLUME [\"/v\"]", "STOPSIGNAL SIGINT",
                 "HEALTHCHECK --interval=5s --retries=2 CMD true", "ONBUILD RUN echo hi"]:
        apply(one("FROM b\n" + line), state, "\\")
    c = state.config
    assert c["Env"] == ["PATH=/bin", "A=9", "B=x y"]
    assert c["Labels"] == {"l": "9"} and c["WorkingDir"] == "/app/sub"
    assert c["ExposedPorts"] == {"80/tcp": {}, "53/udp": {}} and c["User"] == "nobody"
    assert c["Entrypoint"] == ["/e"] and c["Cmd"] is None  # ENTRYPOINT resets an inherited CMD
    assert c["Volumes"] == {"/v": {}} and c["StopSignal"] == "SIGINT"
    assert c["Healthcheck"] == {"Test": ["CMD-SHELL", "true"], "Interval": 5_000_000_000, "Retries": 2}
    assert c["OnBuild"] == ["RUN echo hi"]


def test_durations() -> None:
    assert parse_duration("1m30s", 1) == 90_000_000_000
    assert parse_duration("250ms", 1) == 250_000_000
    with pytest.raises(ParseError):
        parse_duration("5 s", 1)


@pytest.mark.parametrize("patterns,path,excluded", [
    (["*.log"], "a.log", True), (["*.log"], "dir/a.log", False), (["**/*.log"], "dir/sub/a.log", True),
    (["**/*.log"], "a.log", True), (["build"], "build/x/y", True), (["build", "!build/keep"], "build/keep", False),
    (["build", "!build/keep"], "build/other", True), (["/abs"], "abs", True), (["a?c"], "abc", True),
    (["a?c"], "a/c", False), (["[ab].txt"], "b.txt", True), (["docs/**"], "docs/a/b", True),
    (["*", "!README.md"], "README.md", False), (["*", "!README.md"], "src", True), (["./x/../y"], "y", True),
])
def test_dockerignore(patterns: list[str], path: str, excluded: bool) -> None:
    assert IgnoreMatcher(patterns).excluded(path) is excluded


def test_dockerignore_file_parsing() -> None:
    assert read_patterns("# comment\n\n  *.o \n!keep.o\n") == ["*.o", "!keep.o"]


def test_step_key_depends_on_every_input() -> None:
    base = step_key("sha256:p", "RUN x", {"a": 1})
    assert base == step_key("sha256:p", "RUN x", {"a": 1})
    assert len({base, step_key("sha256:q", "RUN x", {"a": 1}), step_key("sha256:p", "RUN y", {"a": 1}),
                step_key("sha256:p", "RUN x", {"a": 2})}) == 4


def test_checksum_ignores_mtime_but_not_content_or_mode(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    f = tmp_path / "d" / "f"
    f.write_text("one")
    first = checksum_paths([(tmp_path / "d", "d")])
    os.utime(f, (1, 1))
    assert checksum_paths([(tmp_path / "d", "d")]) == first
    os.chmod(f, 0o600)
    second = checksum_paths([(tmp_path / "d", "d")])
    assert second != first
    f.write_text("two")
    assert checksum_paths([(tmp_path / "d", "d")]) != second
    (tmp_path / "d" / "link").symlink_to("f")
    assert checksum_paths([(tmp_path / "d", "d")]) != second
