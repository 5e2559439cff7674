"""Build stages: global ARGs, FROM ... AS, dependencies (FROM, COPY --from, RUN --mount from=), target, cycles."""

from __future__ import annotations

from dataclasses import dataclass, field

from dockyard.builder.parser import Dockerfile, Instruction, ParseError, split_raw_words
from dockyard.builder.words import Lexer
from dockyard.errors import InvalidParameter


@dataclass
class Stage:
    """One `FROM` and the instructions up to the next one."""

    index: int
    name: str
    base: str
    platform: str
    from_inst: Instruction
    instructions: list[Instruction] = field(default_factory=list)
    deps: set[int] = field(default_factory=set)

    @property
    def label(self) -> str:
        """The stage's name, or its index when it has none."""
        return self.name or str(self.index)


@dataclass
class Plan:
    """Stages, the values of global ARGs, the target stage and the stages it needs (in order)."""

    stages: list[Stage]
    global_args: dict[str, str]
    global_insts: list[Instruction]
    target: int
    needed: list[int]


def parse_arg(text: str) -> tuple[str, str | None]:
    """`NAME` or `NAME=default` (raw, unexpanded default)."""
    name, eq, default = text.partition("=")
    if not name:
        raise InvalidParameter("ARG requires at least one argument")
    return name, (default if eq else None)


def make_plan(df: Dockerfile, build_args: dict[str, str | None], target: str) -> Plan:
    """Split the Dockerfile into stages and work out which ones the target needs."""
    global_args: dict[str, str] = {}
    global_insts: list[Instruction] = []
    stages: list[Stage] = []
    for inst in df.instructions:
        if inst.cmd == "from":
            stages.append(_stage(inst, len(stages), global_args, df.escape))
        elif not stages:
            if inst.cmd != "arg":
                raise ParseError(inst.line, f"{inst.cmd.upper()} before FROM: a Dockerfile must begin with a FROM "
                                            "instruction (only ARG may come first)")
            global_insts.append(inst)
            for word in split_raw_words(inst.rest):
                name, default = parse_arg(word)
                value = build_args.get(name) if name in build_args and build_args[name] is not None else (
                    Lexer(global_args, df.escape).word(default) if default is not None else None)
                if value is not None:
                    global_args[name] = value
        else:
            stages[-1].instructions.append(inst)
    if not stages:
        raise InvalidParameter("the Dockerfile (Dockerfile) cannot be empty" if not df.instructions
                               else "no build stage in current context")
    names = {s.name: s.index for s in stages if s.name}
    for stage in stages:
        _collect_deps(stage, stages, names, global_args, df.escape)
    if target:
        if target.lower() not in names:
            raise InvalidParameter(f"failed to reach build target {target} in Dockerfile")
        target_index = names[target.lower()]
    else:
        target_index = len(stages) - 1
    return Plan(stages, global_args, global_insts, target_index, _needed(stages, target_index))


def _stage(inst: Instruction, index: int, global_args: dict[str, str], escape: str) -> Stage:
    """A stage from its FROM line: `image [AS name]` with global ARGs expanded."""
    lexer = Lexer(global_args, escape)
    words = lexer.words(inst.rest)
    if len(words) not in (1, 3) or (len(words) == 3 and words[1].lower() != "as"):
        raise ParseError(inst.line, "FROM requires either one or three arguments")
    name = words[2].lower() if len(words) == 3 else ""
    platform = lexer.word(inst.flag("platform") or "")
    return Stage(index, name, words[0], platform, inst)


def stage_ref(ref: str, stages: list[Stage], names: dict[str, int], before: int) -> int | None:
    """The stage a `--from`/`FROM` value names (by name or index), or None when it names an image."""
    if ref.lower() in names:
        return names[ref.lower()]
    if ref.isdigit():
        index = int(ref)
        if index >= before:
            raise InvalidParameter(f"invalid from flag value {ref}: refers to current or future build stage")
        return index
    return None


def _collect_deps(stage: Stage, stages: list[Stage], names: dict[str, int], args: dict[str, str], escape: str) -> None:
    """Record the stages this one reads from."""
    base = names.get(stage.base.lower())
    if base is not None:
        if base >= stage.index:
            raise InvalidParameter(f"circular dependency detected on stage: {stage.base}")
        stage.deps.add(base)
    for inst in stage.instructions:
        refs = []
        if inst.cmd in ("copy", "add") and inst.flag("from"):
            refs.append(Lexer(args, escape).word(inst.flag("from") or ""))
        if inst.cmd == "run":
            for mount in inst.flag_values("mount"):
                fields = dict(part.partition("=")[::2] for part in mount.split(","))
                if fields.get("from"):
                    refs.append(fields["from"])
        for ref in refs:
            index = stage_ref(ref, stages, names, len(stages))
            if index == stage.index:
                raise InvalidParameter(f"circular dependency detected on stage: {stage.label}")
            if index is not None:
                stage.deps.add(index)


def _needed(stages: list[Stage], target: int) -> list[int]:
    """The target and every stage it depends on, transitively; a cycle is an error."""
    state: dict[int, str] = {}
    order: list[int] = []

    def visit(index: int) -> None:
        if state.get(index) == "done":
            return
        if state.get(index) == "active":
            raise InvalidParameter(f"circular dependency detected on stage: {stages[index].label}")
        state[index] = "active"
        for dep in sorted(stages[index].deps):
            visit(dep)
        state[index] = "done"
        order.append(index)

    visit(target)
    return sorted(order)
