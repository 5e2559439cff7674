"""Runs a build: stages in dependency order (independent ones in parallel), each step cached or committed."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any, AsyncGenerator, AsyncIterator, Awaitable, Callable

from dockyard.builder import fsops, metadata
from dockyard.builder.cache import BuildCache, checksum_paths, step_key
from dockyard.builder.cachefrom import CacheSources
from dockyard.builder.ctxfiles import ContextFiles
from dockyard.builder.options import BuildOptions
from dockyard.builder.output import OrderedOutput, current_stage
from dockyard.builder.parser import Dockerfile, Instruction, ParseError, parse, parse_line
from dockyard.builder.protocols import BuildImages
from dockyard.builder.rootfs import StepRootfs, mounted_image, step_rootfs
from dockyard.builder.runnet import network_mode
from dockyard.builder.runstep import RunRequest, StepContainers, run_step
from dockyard.builder.request import build_options, start_build
from dockyard.builder.stages import Plan, Stage, make_plan, stage_ref
from dockyard.errors import InvalidParameter, NotFound, RuntimeFailure
from dockyard.events.publisher import EventPublisher
from dockyard.oci.users import resolve_user
from dockyard.snapshots.diff import write_layer_tar
from dockyard.snapshots.overlay import Snapshotter
from dockyard.util import reference
from dockyard.util.imageview import ResolvedImage
from dockyard.util.digest import short_id

Emit = Callable[[dict[str, Any]], None]
# A step's layer maker: given how to derive the image from the step's rootfs, runs the step and derives it.
MakeLayer = Callable[[Callable[[StepRootfs], ResolvedImage]], Awaitable[ResolvedImage]]
SUPPORTED_PLATFORMS = ("", "linux", "linux/amd64")


class Builder:
    """Turns a context directory and options into an image; one instance serves every build of the daemon."""

    def __init__(self, images: BuildImages, snapshots: Snapshotter, events: EventPublisher, cache: BuildCache,
                 work_root: Path, cache_mounts: Path, containers: StepContainers) -> None:
        self.images = images
        self.snapshots = snapshots
        self.events = events
        self.containers = containers
        self.cache = cache
        self.work_root = work_root
        self.cache_mounts = cache_mounts
        work_root.mkdir(parents=True, exist_ok=True)
        cache_mounts.mkdir(parents=True, exist_ok=True)
        self._remove_leftovers()
        self.files = ContextFiles(work_root / "context-files")

    def _remove_leftovers(self) -> None:
        """At daemon start no build runs: drop what a crash left (step snapshots, unpacked contexts)."""
        for entry in self.work_root.iterdir():
            if entry.name.startswith("build-"):
                self.snapshots.unmount(entry / "rootfs")
                self.snapshots.remove_container(entry.name)
            shutil.rmtree(entry)

    async def build(self, context: Path, opts: BuildOptions, emit: Emit) -> str:
        """Build and tag; progress goes to `emit` as docker's JSON messages; returns the image id."""
        if opts.platform not in SUPPORTED_PLATFORMS:
            raise InvalidParameter(f"unsupported platform {opts.platform}: only linux/amd64 can be built")
        tags = [reference.parse_tagged(t) for t in opts.tags]
        text = await asyncio.to_thread(_read_dockerfile, context, opts.dockerfile)
        df = parse(text)
        plan = make_plan(df, opts.build_args, opts.target)
        run = _Run(self, context, opts, plan, df, emit)
        image = await run.execute()
        if image is None:
            raise InvalidParameter("No image was generated. Is your Dockerfile empty?")
        emit({"aux": {"ID": image.id}})
        run.say(f"Successfully built {short_id(image.id)}\n")
        for ref in tags:
            self.images.set_tag(ref, image.id)
            self.events.publish("image", "tag", image.id, {"name": ref.familiar()})
            run.say(f"Successfully tagged {ref.familiar()}\n")
        if opts.quiet:  # docker's -q: the only output is the image id
            emit({"stream": f"{image.id}\n"})
        return image.id

    async def build_request(self, chunks: AsyncIterator[bytes], fields: dict[str, Any], limits: dict[str, Any],
                            registry_config: str | None) -> AsyncGenerator[dict[str, Any], None]:
        """POST /build: options from the parsed query, RUN limits and the X-Registry-Config header; the context
        is received from `chunks` (its errors raise here), then the build runs as its messages are read."""
        opts = build_options(fields, limits, self.images, registry_config)
        return await start_build(self, chunks, opts)

    def release_context(self, context: Path) -> None:
        """Delete a finished build's context, then trim the kept context files to their budget."""
        shutil.rmtree(context)
        self.files.prune()

    def prune(self) -> dict[str, Any]:
        """POST /build/prune: forget every cached step and delete the untagged images only the cache kept."""
        entries = self.cache.entries()
        before = self.images.total_size()
        deleted: list[str] = []
        for entry in reversed(entries):
            deleted.append(entry.key)
            if not self.images.known(entry.image_id) or self.images.references(entry.image_id):
                continue
            with contextlib.suppress(NotFound):
                self.images.remove(entry.image_id, False, False)
        self.cache.drop(deleted)
        self.files.prune(0)
        return {"CachesDeleted": [k[len("sha256:"):] for k in deleted] or None,
                "SpaceReclaimed": max(0, before - self.images.total_size())}

    def disk_usage(self) -> list[dict[str, Any]]:
        """Build-cache rows for GET /system/df (BuildCache)."""
        from dockyard.util.timeutil import format_ns
        rows = []
        for entry in self.cache.entries():
            rows.append({"ID": entry.key[len("sha256:"):][:12], "Parents": None, "Type": "regular",
                         "Description": entry.image_id, "InUse": False, "Shared": False,
                         "Size": self.images.stored_size(entry.image_id),
                         "CreatedAt": format_ns(int(entry.created * 1e9)),
                         "LastUsedAt": format_ns(int(entry.last_used * 1e9)), "UsageCount": 1})
        return rows


def _read_dockerfile(context: Path, name: str) -> str:
    """The Dockerfile named relative to the context root (never outside it)."""
    from dockyard.util.securejoin import secure_join
    path = secure_join(context, name or "Dockerfile")
    try:
        return path.read_text(errors="replace")
    except (FileNotFoundError, IsADirectoryError):
        raise InvalidParameter(f"Cannot locate specified Dockerfile: {name}") from None


class _Run:
    """One build in progress: the plan, stage results and step numbering."""

    def __init__(self, builder: Builder, context: Path, opts: BuildOptions, plan: Plan, df: Dockerfile,
                 emit: Emit) -> None:
        self.b = builder
        self.images = builder.images
        self.context = context
        self.opts = opts
        self.plan = plan
        self.escape = df.escape
        self.quiet_emit = emit
        self.output = OrderedOutput(list(plan.needed), emit)
        self.results: dict[int, asyncio.Future[Any]] = {}
        numbered = [i for s in plan.needed for i in [plan.stages[s].from_inst, *plan.stages[s].instructions]]
        self.numbers = {id(inst): n for n, inst in enumerate(numbered, start=1)}
        self.total = len(numbered) + (1 if opts.labels else 0)
        self.names = {s.name: s.index for s in plan.stages if s.name}
        self.cache_sources: CacheSources | None = None

    def emit(self, msg: dict[str, Any]) -> None:
        """Progress text (suppressed with q=1), in step order whatever stage runs first."""
        if not self.opts.quiet:
            self.output.emit(msg)

    def say(self, text: str) -> None:
        """One progress line."""
        self.emit({"stream": text})

    async def execute(self) -> ResolvedImage | None:
        """Run the needed stages concurrently; each waits for the stages it reads from."""
        loop = asyncio.get_running_loop()
        if self.opts.cache_from and not self.opts.no_cache:
            self.cache_sources = await asyncio.to_thread(CacheSources, self.images, self.opts.cache_from)
        self.results = {i: loop.create_future() for i in self.plan.needed}
        tasks = [asyncio.create_task(self._stage(self.plan.stages[i])) for i in self.plan.needed]
        try:
            await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for future in self.results.values():
                if future.done() and not future.cancelled():
                    future.exception()
            raise
        finally:
            self.output.flush_all()
        return self.results[self.plan.target].result()

    async def _stage(self, stage: Stage) -> None:
        """FROM, ONBUILD triggers, every instruction; publishes the stage's image for its dependants."""
        current_stage.set(stage.index)  # this task's own context: its lines are ordered as its stage
        try:
            image = await self._from(stage)
            state = metadata.StageState(config=dict((image.config.get("config") if image else None) or {}))
            triggers = list(state.config.pop("OnBuild", None) or [])
            if triggers:
                self.say(f"# Executing {len(triggers)} build trigger{'s' if len(triggers) > 1 else ''}\n")
            for text in triggers:
                image = await self._instruction(parse_line(text, stage.from_inst.line, self.escape), image, state)
            for inst in stage.instructions:
                image = await self._instruction(inst, image, state)
            if stage.index == self.plan.target and self.opts.labels:
                image = await self._labels(image, state)
        except BaseException as exc:
            self.results[stage.index].set_exception(exc)
            raise
        finally:
            self.output.finished(stage.index)
        self.results[stage.index].set_result(image)

    def _announce(self, inst: Instruction) -> None:
        number = self.numbers.get(id(inst))
        if number is not None:
            self.say(f"Step {number}/{self.total} : {inst.original}\n")

    async def _from(self, stage: Stage) -> ResolvedImage | None:
        self._announce(stage.from_inst)
        if stage.platform not in SUPPORTED_PLATFORMS:
            raise InvalidParameter(f"unsupported platform {stage.platform} on line {stage.from_inst.line}")
        base = self.names.get(stage.base.lower())
        if base is not None:
            image = await self.results[base]
        elif stage.base == "scratch":
            image = None
        else:
            image = await asyncio.to_thread(self._base_image, stage.base)
        if image is not None:
            self.say(f" ---> {short_id(image.id)}\n")
        return image

    def _base_image(self, ref: str) -> ResolvedImage | None:
        """A FROM image: pulled first with `pull`, or when it is not here and the build can pull (as docker does)."""
        if self.opts.fetch is not None and (self.opts.pull or not self._present(ref)):
            for msg in self.opts.fetch(ref):
                if "errorDetail" in msg or "error" in msg:
                    raise NotFound((msg.get("errorDetail") or {}).get("message") or msg.get("error") or "pull failed")
                self.emit(msg)
        return self.images.resolve(ref)

    def _present(self, ref: str) -> bool:
        try:
            self.images.resolve(ref)
        except NotFound:
            return False
        return True

    async def _instruction(self, inst: Instruction, image: ResolvedImage | None,
                           state: metadata.StageState) -> ResolvedImage | None:
        """Dispatch one instruction; returns the image after it."""
        self._announce(inst)
        try:
            if inst.cmd == "run":
                return await self._run(inst, image, state)
            if inst.cmd in ("copy", "add"):
                return await self._copy(inst, image, state)
            if inst.cmd == "arg":
                created = metadata.apply_arg(inst, state, self.escape, self.opts.build_args, self.plan.global_args)
            else:
                created = metadata.apply(inst, state, self.escape)
        except InvalidParameter as bad:
            if isinstance(bad, ParseError) or "line" in bad.message:
                raise
            raise InvalidParameter(f"{bad.message} (Dockerfile line {inst.line}: {inst.original})") from bad
        return await self._commit(image, state, created, {}, None)

    async def _labels(self, image: ResolvedImage | None, state: metadata.StageState) -> ResolvedImage | None:
        """The build's `labels` parameter, applied as docker does: one more LABEL step."""
        self.say(f"Step {self.total}/{self.total} : LABEL " +
                 " ".join(f"{k}={v}" for k, v in sorted(self.opts.labels.items())) + "\n")
        state.config["Labels"] = {**(state.config.get("Labels") or {}), **self.opts.labels}
        created = metadata.nop("LABEL " + " ".join(f"{k}={v}" for k, v in sorted(self.opts.labels.items())))
        return await self._commit(image, state, created, {}, None)

    # ----- committing -----------------------------------------------------------------------------

    def _cached(self, key: str, parent: ResolvedImage | None, state: metadata.StageState, created: str,
                layered: bool) -> ResolvedImage | None:
        """The image a step produced before (here, or with --cache-from in one of those images), unless caching is
        off."""
        if self.opts.no_cache:
            return None
        if self.cache_sources is None:  # with --cache-from only those images are sources, as in dockerd
            image_id = self.b.cache.get(key, self.images.known)
            return self.images.resolve(image_id) if image_id else None
        found = self.cache_sources.find(parent, created, layered, _config(state), state.author)
        if found is not None:
            self.b.cache.put(key, found.id)
        return found

    async def _commit(self, image: ResolvedImage | None, state: metadata.StageState, created: str,
                      extra: dict[str, Any], make_layer: MakeLayer | None) -> ResolvedImage:
        """Cache lookup, else run `make_layer` (an async fn returning an upper dir holder) and derive the image."""
        key = step_key(image.id if image else "scratch", created, extra)
        hit = await asyncio.to_thread(self._cached, key, image, state, created, make_layer is not None)
        if hit is not None:
            self.say(" ---> Using cache\n")
            self.say(f" ---> {short_id(hit.id)}\n")
            return hit
        if make_layer is None:
            result = await asyncio.to_thread(self._derive, image, None, state, created)
        else:
            result = await make_layer(lambda step: self._derive(image, step, state, created))
        await asyncio.to_thread(self.b.cache.put, key, result.id)
        self.say(f" ---> {short_id(result.id)}\n")
        return result

    def _derive(self, parent: ResolvedImage | None, step: StepRootfs | None, state: metadata.StageState,
                created: str) -> ResolvedImage:
        """Make the child image (layer streamed from the step's upper dir through a pipe) and resolve it."""
        config = _config(state)
        if step is None:
            record = self.images.derive(parent, None, config, created, author=state.author)
            return self.images.resolve(record.id)
        read_fd, write_fd = os.pipe()
        failures: list[BaseException] = []

        def produce() -> None:
            try:
                with open(write_fd, "wb") as out:
                    write_layer_tar(step.upper, out)
            except BaseException as exc:  # noqa: BLE001 - handed to the committing thread below
                failures.append(exc)

        writer = threading.Thread(target=produce, daemon=True)
        writer.start()
        try:
            with open(read_fd, "rb") as layer:
                record = self.images.derive(parent, layer, config, created, author=state.author)
        finally:
            writer.join()
        if failures:
            raise failures[0]
        return self.images.resolve(record.id)

    # ----- RUN ------------------------------------------------------------------------------------

    async def _run(self, inst: Instruction, image: ResolvedImage | None,
                   state: metadata.StageState) -> ResolvedImage | None:
        argv = _run_argv(inst, state)
        args = dict(state.args)
        prefix = f"|{len(args)} " + " ".join(f"{k}={v}" for k, v in sorted(args.items())) + " " if args else ""
        created = prefix + " ".join(argv)
        mounts = [state.lexer(self.escape).word(m) for m in inst.flag_values("mount")]
        network = network_mode(self.opts.network_mode, inst.flag("network") or "")
        extra = {"mounts": mounts, "run-network": inst.flag("network") or ""}

        async def make_layer(derive: Callable[[StepRootfs], ResolvedImage]) -> ResolvedImage:
            chain = image.chain_id if image else None
            with step_rootfs(self.b.snapshots, chain, self.b.work_root) as step, contextlib.ExitStack() as stack:
                self.say(f" ---> Running in {step.key[len('build-'):][:12]}\n")
                oci_mounts = [await self._mount(spec, stack, inst) for spec in mounts]
                await asyncio.to_thread(step.mount)
                req = RunRequest(argv, list(state.config.get("Env") or []), args,
                                 state.config.get("WorkingDir") or "/", state.config.get("User") or "", network,
                                 self.opts.extra_hosts, oci_mounts, self.opts.limits)
                code = await run_step(self.b.containers, step.dir, req, lambda text: self.say(text))
                await asyncio.to_thread(step.unmount)
                if code != 0:
                    raise RuntimeFailure(f"The command '{' '.join(argv)}' returned a non-zero code: {code}", code)
                if self.opts.remove:
                    self.say(f"Removing intermediate container {step.key[len('build-'):][:12]}\n")
                return await asyncio.to_thread(derive, step)

        return await self._commit(image, state, created, extra, make_layer)

    async def _mount(self, spec: str, stack: contextlib.ExitStack, inst: Instruction) -> dict[str, Any]:
        """One `RUN --mount=...` as an OCI mount (cache dirs persist; bind sources come from the context or a stage)."""
        fields: dict[str, str] = {}
        for part in spec.split(","):
            key, eq, value = part.partition("=")
            fields[key.strip()] = value if eq else "true"
        kind = fields.get("type", "bind")
        target = fields.get("target") or fields.get("dst") or fields.get("destination")
        if not target:
            raise InvalidParameter(f"mount target is required (Dockerfile line {inst.line})")
        if kind == "cache":
            name = hashlib.sha256((fields.get("id") or target).encode()).hexdigest()
            source = self.b.cache_mounts / name
            source.mkdir(exist_ok=True, mode=0o755)
            return {"destination": target, "type": "bind", "source": str(source), "options": ["rbind", "rw"]}
        if kind == "tmpfs":
            return {"destination": target, "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev"]}
        if kind != "bind":
            raise InvalidParameter(f"unsupported mount type {kind} (Dockerfile line {inst.line})")
        root = self.context
        if fields.get("from"):
            image = await self._source_image(fields["from"])
            root = await asyncio.to_thread(
                stack.enter_context, mounted_image(self.b.snapshots, image.chain_id if image else None,
                                                   self.b.work_root))
        from dockyard.util.securejoin import secure_join
        source = secure_join(root, fields.get("source") or fields.get("src") or "/")
        if not source.exists():
            raise InvalidParameter(f"failed to mount {fields.get('source')}: not found (Dockerfile line {inst.line})")
        mode = "rw" if fields.get("rw", fields.get("readwrite")) == "true" else "ro"
        if mode == "rw" and root == self.context:  # context files are shared links: writes go to a copy
            source = await asyncio.to_thread(self._scratch_copy, source, stack)
        return {"destination": target, "type": "bind", "source": str(source), "options": ["rbind", mode]}

    def _scratch_copy(self, source: Path, stack: contextlib.ExitStack) -> Path:
        """A throw-away copy of a context path for a writable bind mount (BuildKit discards such writes too)."""
        scratch = Path(tempfile.mkdtemp(dir=self.b.work_root, prefix="bind-"))
        stack.callback(shutil.rmtree, scratch)
        copy = scratch / "src"
        if source.is_dir():
            shutil.copytree(source, copy, symlinks=True)
        else:
            shutil.copy2(source, copy)
        return copy

    async def _source_image(self, ref: str) -> ResolvedImage | None:
        """The image a `--from` names: a stage's result, or an image by reference."""
        index = stage_ref(ref, self.plan.stages, self.names, len(self.plan.stages))
        if index is not None:
            return await self.results[index]
        try:
            return await asyncio.to_thread(self.images.resolve, ref)
        except NotFound:
            raise InvalidParameter(f"invalid from flag value {ref}: no stage or image of that name") from None

    # ----- COPY / ADD -----------------------------------------------------------------------------

    async def _copy(self, inst: Instruction, image: ResolvedImage | None,
                    state: metadata.StageState) -> ResolvedImage | None:
        lexer = state.lexer(self.escape)
        words = list(inst.exec_form) if inst.exec_form is not None else lexer.words(inst.rest)
        if len(words) < 2:
            raise InvalidParameter(f"{inst.cmd.upper()} requires at least two arguments, but only one was provided. "
                                   f"Destination could not be determined. (Dockerfile line {inst.line})")
        *sources, dest = words
        from_ref = lexer.word(inst.flag("from") or "")
        if from_ref and inst.cmd == "add":
            raise InvalidParameter("ADD --from is not supported")
        owner = fsops.Owner(mode=_parse_chmod(inst.flag("chmod"), inst))
        chown = lexer.word(inst.flag("chown") or "")
        with tempfile.TemporaryDirectory(dir=self.b.work_root, prefix="src-") as staging, \
                contextlib.ExitStack() as source_mount:
            staged = await asyncio.to_thread(self._stage_special, inst, sources, Path(staging), lexer)
            if from_ref:  # the source stage or image stays mounted for the checksum and the copy
                src_image = await self._source_image(from_ref)
                root = await asyncio.to_thread(source_mount.enter_context, mounted_image(
                    self.b.snapshots, src_image.chain_id if src_image else None, self.b.work_root))
                resolved = await asyncio.to_thread(fsops.resolve_sources, root, sources, False)
            else:
                resolved = await asyncio.to_thread(self._local_sources, sources, staged, inst)
            # keyed on what is copied, as docker does: a rebuilt stage with the same files keeps later steps cached
            checksum = await asyncio.to_thread(checksum_paths, resolved, self.b.files.digest_of)
            kind = "multi" if len(sources) > 1 else "file"
            created = f"/bin/sh -c #(nop) {inst.cmd.upper()} {kind}:{checksum} in {dest} "
            extra = {"chown": chown, "chmod": inst.flag("chmod") or "", "sources": sources,
                     "from": "stage" if from_ref else ""}

            async def make_layer(derive: Callable[[StepRootfs], ResolvedImage]) -> ResolvedImage:
                chain = image.chain_id if image else None
                with step_rootfs(self.b.snapshots, chain, self.b.work_root) as step:
                    rootfs = await asyncio.to_thread(step.mount)
                    await asyncio.to_thread(self._write_copy, rootfs, resolved, dest, state, owner, chown, inst)
                    await asyncio.to_thread(step.unmount)
                    return await asyncio.to_thread(derive, step)

            return await self._commit(image, state, created, extra, make_layer)

    def _stage_special(self, inst: Instruction, sources: list[str], staging: Path, lexer: Any) -> dict[str, Path]:
        """Heredoc bodies and ADD URLs materialized as files; returns source word -> staged path."""
        staged: dict[str, Path] = {}
        heredocs = {f"<<{h.name}": h for h in inst.heredocs} | {f"<<-{h.name}": h for h in inst.heredocs}
        for source in sources:
            doc = heredocs.get(source.replace('"', "").replace("'", ""))
            if doc is not None:
                path = staging / doc.name
                path.write_text(lexer.word(doc.content) if doc.expand else doc.content)
                os.chmod(path, 0o644)
                staged[source] = path
            elif fsops.is_url(source):
                if inst.cmd != "add":
                    raise InvalidParameter(f"source can't be a URL for COPY (Dockerfile line {inst.line})")
                staged[source] = fsops.download(source, staging)[0]
        return staged

    def _local_sources(self, sources: list[str], staged: dict[str, Path], inst: Instruction) -> list[tuple[Path, str]]:
        """Context sources (wildcards expanded) plus staged heredocs and downloads, in order."""
        found: list[tuple[Path, str]] = []
        for source in sources:
            if source in staged:
                found.append((staged[source], staged[source].name))
                continue
            try:
                found.extend(fsops.resolve_sources(self.context, [source], True))
            except InvalidParameter as bad:
                raise InvalidParameter(f"{inst.cmd.upper()} failed: {bad.message.split(': ', 1)[1]}") from bad
        return found

    def _write_copy(self, rootfs: Path, found: list[tuple[Path, str]], dest: str, state: metadata.StageState,
                    owner: fsops.Owner, chown: str, inst: Instruction) -> None:
        """Resolve --chown against the target's passwd/group, then copy."""
        if chown:
            user = resolve_user(rootfs, chown)
            owner.uid, owner.gid = user.uid, user.gid
        workdir = state.config.get("WorkingDir") or "/"
        fsops.copy_sources(found, rootfs, dest, workdir, owner, extract_archives=inst.cmd == "add")


def _config(state: metadata.StageState) -> dict[str, Any]:
    """The image config a step leaves: the stage's config without unset keys (Cmd and Entrypoint stay)."""
    return {k: v for k, v in state.config.items() if v is not None or k in ("Cmd", "Entrypoint")}


def _run_argv(inst: Instruction, state: metadata.StageState) -> list[str]:
    """RUN's argv: exec form as is; shell form (with any heredocs appended as the shell script) in SHELL."""
    if inst.exec_form is not None:
        return list(inst.exec_form)
    if inst.heredocs and inst.rest.strip() in (f"<<{inst.heredocs[0].name}", f"<<-{inst.heredocs[0].name}",
                                                  f'<<"{inst.heredocs[0].name}"', f"<<'{inst.heredocs[0].name}'"):
        return state.shell + [inst.heredocs[0].content]
    script = inst.rest + "".join(f"\n{h.content}{h.name}" for h in inst.heredocs)
    return state.shell + [script]


def _parse_chmod(value: str | None, inst: Instruction) -> int | None:
    """--chmod as an octal mode."""
    if not value:
        return None
    try:
        mode = int(value, 8)
    except ValueError:
        raise ParseError(inst.line, f"invalid chmod parameter {value}") from None
    if mode > 0o7777:
        raise ParseError(inst.line, f"invalid chmod parameter {value}")
    return mode
