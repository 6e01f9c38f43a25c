"""Commands that write: init, model, version, alias, stage, card."""
import click

from ..core.refs import parse_ref, parse_version
from ..registry import MODEL_TYPES, init_registry
from .common import (emit_json, json_option, open_registry, parse_metrics, parse_pairs, parse_params,
                     progress_bars, table, warn_deleted, warn_deprecated, written)
from .promote_cmds import pr_option, write_or_propose


@click.command("init")
@click.argument("directory", default=".", type=click.Path(file_okay=False))
@click.option("--remote", metavar="URL", help="DVC remote for weights (default: a local folder "
              "under $XDG_DATA_HOME/modelreg/remotes), e.g. s3://bucket/prefix, gs://bucket/prefix, "
              "azure://container/prefix.")
@click.option("--endpoint-url", metavar="URL", help="S3-compatible endpoint (MinIO, SeaweedFS, ...) "
              "for an s3:// remote, or a GCS emulator's for gs://.")
@click.option("--tool-source", metavar="GIT_URL@COMMIT", help="Where CI installs modelreg from: "
              "git+https://HOST/ORG/modelreg@<40-hex commit> (default: the source this modelreg "
              "was installed from, when it was installed from git).")
@click.option("--approver", "approvers", multiple=True, metavar="@USER|@ORG/TEAM",
              help="Who approves production and owns the policy files in CODEOWNERS (repeatable; "
                   "one of them must approve). Without it, nothing is protected until registry.yaml "
                   "names approvals.")
@json_option
@click.pass_context
def init_cmd(ctx, directory, remote, endpoint_url, tool_source, approvers, as_json):
    """Make DIRECTORY a registry: git, DVC, registry.yaml, schemas, CI workflows, CODEOWNERS;
    one commit."""
    from ..store.gitstore import GitStore
    from ..writes.scaffold import notes

    root = init_registry(directory, remote=remote, endpoint_url=endpoint_url, tool_source=tool_source,
                         approvers=approvers)
    if as_json:
        return emit_json({"path": str(root), "commit": GitStore(root).rev_parse("HEAD"),
                          "approvers": sorted(approvers), "notes": notes(root)})
    click.echo(f"Initialized modelreg registry in {root}")
    for note in notes(root):
        click.echo(f"note: {note}", err=True)


# -- model ---------------------------------------------------------------------------
@click.group()
def model():
    """Register and inspect models."""


@model.command("register")
@click.argument("name")
@click.option("--type", "model_type", required=True, type=click.Choice(MODEL_TYPES))
@click.option("--description", "-d", help="What the model is for.")
@click.option("--owner", "owners", multiple=True, metavar="@USER|@ORG/TEAM",
              help="GitHub owner who reviews changes (repeatable).")
@click.option("--tag", "tags", multiple=True, metavar="K=V", help="Label (repeatable).")
@json_option
@click.pass_context
def model_register(ctx, name, model_type, description, owners, tags, as_json):
    """Register a new model NAME."""
    record = open_registry(ctx).register_model(name, model_type, description, owners,
                                               parse_pairs(tags, "--tag"))
    emit_json({"model": name, **record}) if as_json else click.echo(f"Registered model {name} ({model_type})")


@model.command("list")
@click.option("--tag", "tags", multiple=True, metavar="K=V", help="Only models with this tag.")
@click.option("--at", metavar="GITREF", help="Read at a branch, tag or commit.")
@click.option("--active", is_flag=True, help="Leave out deprecated models.")
@json_option
@click.pass_context
def model_list(ctx, tags, at, active, as_json):
    """List registered models (deprecated ones marked DEPRECATED)."""
    models = open_registry(ctx).list_models(parse_pairs(tags, "--tag"), at=at, active=active)
    if as_json:
        # `model` is the key every other command uses; `name` stays for older scripts.
        return emit_json([{"model": m.get("name"), **m} for m in models])
    rows = [[m["name"], m["model_type"], ",".join(m.get("owners", [])), _described(m)] for m in models]
    click.echo(table(rows, ["NAME", "TYPE", "OWNERS", "DESCRIPTION"]) if rows else "No models.")


def _described(record: dict) -> str:
    """The description, led by DEPRECATED (reason) for a deprecated model."""
    from ..store.reads import deprecation

    marked = deprecation(record)
    flag = f"DEPRECATED ({marked.get('reason') or 'no reason given'})" if marked else ""
    return ": ".join(part for part in (flag, record.get("description", "")) if part)


@model.command("set")
@click.argument("name")
@click.option("--description", "-d", help="What the model is for ('' removes it).")
@click.option("--owner", "owners", multiple=True, metavar="@USER|@ORG/TEAM",
              help="Replace the owners with these (repeatable).")
@click.option("--add-owner", "add_owners", multiple=True, metavar="@USER|@ORG/TEAM", help="Add an owner (repeatable).")
@click.option("--remove-owner", "remove_owners", multiple=True, metavar="@USER|@ORG/TEAM",
              help="Remove an owner (repeatable).")
@click.option("--tag", "tags", multiple=True, metavar="K=V", help="Set a tag (repeatable).")
@click.option("--untag", "untags", multiple=True, metavar="K", help="Remove a tag (repeatable).")
@click.option("--reason", help="Why (kept in the commit; 'history' shows it).")
@pr_option
@json_option
@click.pass_context
def model_set(ctx, name, description, owners, add_owners, remove_owners, tags, untags, reason, as_pr, as_json):
    """Edit NAME's model.yaml: description, owners, tags; one commit (or --pr)."""
    reg = open_registry(ctx)
    result = write_or_propose(reg, as_pr, name, "model", f"Update model {name}", lambda: reg.update_model(
        name, description, owners or None, add_owners, remove_owners, parse_pairs(tags, "--tag"), untags, reason),
        as_json)
    if result is None:
        return
    if as_json:
        return emit_json(written(reg, {"event": "model.update", "model": name, "changed": result["changed"],
                                       "reason": reason, "record": result["record"]}))
    click.echo(f"Updated model {name}: {', '.join(result['changed'])}")


@model.command("deprecate")
@click.argument("name")
@click.option("--reason", help="Why, and what to use instead (required; shown by resolve, load and pull).")
@pr_option
@json_option
@click.pass_context
def model_deprecate(ctx, name, reason, as_pr, as_json):
    """Mark NAME deprecated: it still resolves and loads, with a warning naming the reason."""
    reg = open_registry(ctx)
    result = write_or_propose(reg, as_pr, name, "deprecate", f"Deprecate model {name}",
                              lambda: reg.deprecate_model(name, reason), as_json)
    if result is None:
        return
    if as_json:
        return emit_json(written(reg, {"event": "model.deprecate", "model": name, "reason": result["reason"],
                                       "deprecated": result["deprecated"]}))
    click.echo(f"Deprecated model {name} ({result['reason']})")


@model.command("undeprecate")
@click.argument("name")
@click.option("--reason", help="Why (kept in the commit).")
@pr_option
@json_option
@click.pass_context
def model_undeprecate(ctx, name, reason, as_pr, as_json):
    """Lift NAME's deprecation."""
    reg = open_registry(ctx)
    result = write_or_propose(reg, as_pr, name, "deprecate", f"Undeprecate model {name}",
                              lambda: reg.undeprecate_model(name, reason), as_json)
    if result is None:
        return
    if as_json:
        return emit_json(written(reg, {"event": "model.undeprecate", "model": name, "reason": result["reason"],
                                       "deprecated": None}))
    click.echo(f"Model {name} is no longer deprecated")


@model.command("show")
@click.argument("name")
@click.option("--at", metavar="GITREF", help="Read at a branch, tag or commit.")
@json_option
@click.pass_context
def model_show(ctx, name, at, as_json):
    """Show a model, its aliases and versions."""
    reg = open_registry(ctx)
    record = reg.get_model(name, at=at)
    aliases = reg.aliases(name, at=at)
    versions = reg.list_versions(name, at=at, include_deleted=True)
    if as_json:
        # the record's fields at the top, like `version show`; `model` is the name everywhere
        return emit_json({"model": name, **record, "aliases": aliases, "versions": versions})
    import yaml

    shown = {key: record[key] for key in ("name", "model_type", "description", "owners", "tags", "deprecated",
                                          "created_at", "created_by") if record.get(key)}
    click.echo(yaml.safe_dump(shown, sort_keys=False, allow_unicode=True).rstrip())  # YAML, as the record is
    click.echo("aliases: " + (", ".join(f"{a} -> {v}" for a, v in sorted(aliases.items())) or "none"))
    rows = [[v["version"], v["stage"], v["status"], v.get("created_at", "")] for v in versions]
    click.echo(table(rows, ["VERSION", "STAGE", "STATUS", "CREATED"]) if rows else "No versions.")


# -- version -------------------------------------------------------------------------
@click.group()
def version():
    """Create, inspect and delete versions."""


@version.command("create")
@click.argument("model_name", metavar="MODEL")
@click.argument("weights_dir", required=False, type=click.Path())
@click.option("--parent", metavar="REF", help="The version this one derives from (e.g. base@3).")
@click.option("--type", "model_type", type=click.Choice(MODEL_TYPES), help="Default: the model's type.")
@click.option("--metric", "metrics", multiple=True, metavar="BENCHMARK/METRIC=VALUE")
@click.option("--param", "params", multiple=True, metavar="K=V")
@click.option("--tag", "tags", multiple=True, metavar="K=V")
@click.option("--description", "-d")
@click.option("--run-id")
@click.option("--experiment-id")
@click.option("--data-version")
@click.option("--source-uri", metavar="URI", help="Where weights kept outside the registry live.")
@pr_option
@json_option
@click.pass_context
def version_create(ctx, model_name, weights_dir, parent, model_type, metrics, params, tags,
                   description, run_id, experiment_id, data_version, source_uri, as_pr, as_json):
    """Register the next version of MODEL, tracking WEIGHTS_DIR with DVC."""
    reg = open_registry(ctx)
    record = write_or_propose(reg, as_pr, model_name, "version", f"Register a new version of {model_name}",
                              lambda: reg.create_version(
        model_name, weights_dir, parent=parent, metrics=parse_metrics(metrics),
        parameters=parse_params(params), tags=parse_pairs(tags, "--tag"), description=description,
        run_id=run_id, experiment_id=experiment_id, data_version=data_version,
        source_uri=source_uri, model_type=model_type, progress=progress_bars(not as_json)), as_json)
    if record is None:
        return
    if as_json:
        return emit_json(dict(record, model=model_name))
    files = len(record.get("artifacts", []))
    size = sum(a["size_bytes"] for a in record.get("artifacts", []))
    click.echo(f"Registered {model_name}@{record['version']} ({files} files, {size:,} bytes)")


@version.command("list")
@click.argument("model_name", metavar="[MODEL]", required=False)
@click.option("--stage", help="Only versions in this stage.")
@click.option("--all", "include_deleted", is_flag=True, help="Include deleted versions.")
@click.option("--where", metavar="QUERY", help="Only versions matching QUERY, e.g. "
              "'mmlu/accuracy >= 0.6 and stage == staging' (keys: BENCHMARK/METRIC, stage, status, version, "
              "model, model_type, created_at, created_by, params.NAME, tags.NAME; and/or/not, parentheses).")
@click.option("--sort", "sort_key", metavar="[-]KEY", help="Order by KEY ('-' first: descending); "
              "versions without it come last.")
@click.option("--limit", type=click.IntRange(min=1), metavar="N", help="At most N versions.")
@click.option("--all-models", is_flag=True, help="Every model's versions (give no MODEL).")
@click.option("--at", metavar="GITREF")
@json_option
@click.pass_context
def version_list(ctx, model_name, stage, include_deleted, where, sort_key, limit, all_models, at, as_json):
    """List the versions of MODEL (or of every model with --all-models), optionally filtered,
    sorted and cut: `version list --all-models --where 'stage == production' --sort -mmlu/accuracy`."""
    if all_models == (model_name is not None):
        raise click.UsageError("give MODEL or --all-models (not both)")
    reg = open_registry(ctx)
    if all_models or where is not None or sort_key or limit:
        versions = reg.query_versions(model_name, where=where, sort=sort_key, limit=limit, stage=stage,
                                      include_deleted=include_deleted, at=at)
    else:
        aliases = reg.aliases(model_name, at=at)
        versions = [{"model": model_name, **v, "aliases": sorted(a for a, n in aliases.items() if n == v["version"])}
                    for v in reg.list_versions(model_name, stage=stage, at=at, include_deleted=include_deleted)]
    if as_json:
        return emit_json(versions)
    rows = [([v["model"]] if all_models else []) + [
             v["version"], v["stage"], v["status"], ",".join(v["aliases"]),
             " ".join(f"{m['benchmark']}/{m['metric']}={m['value']}" for m in v.get("metrics", []))]
            for v in versions]
    headers = (["MODEL"] if all_models else []) + ["VERSION", "STAGE", "STATUS", "ALIASES", "METRICS"]
    click.echo(table(rows, headers) if rows else "No versions.")


@version.command("show")
@click.argument("ref")
@click.option("--at", metavar="GITREF")
@json_option
@click.pass_context
def version_show(ctx, ref, at, as_json):
    """Show the version REF (NAME@N, NAME@ALIAS, NAME@latest)."""
    resolved = open_registry(ctx).resolve(ref, at=at)
    warn_deleted(resolved)
    warn_deprecated(resolved.model, resolved.deprecated)
    if as_json:
        return emit_json(dict(resolved.record, model=resolved.model, aliases=list(resolved.aliases),
                              commit=resolved.commit))
    import yaml

    click.echo(f"# {resolved.model}@{resolved.version} at {resolved.commit[:12]}")
    click.echo(yaml.safe_dump(resolved.record, sort_keys=False).rstrip())


@version.command("delete")
@click.argument("ref")
@click.option("--reason", required=True, help="Why (kept in the record).")
@json_option
@click.pass_context
def version_delete(ctx, ref, reason, as_json):
    """Soft-delete a version: the record stays, marked deleted."""
    target = parse_ref(ref)
    reg = open_registry(ctx)
    number = target.version if target.version is not None else reg.resolve(ref).version
    result = reg.delete_version(target.model, number, reason)
    if as_json:
        return emit_json(written(reg, {"event": "version.delete", "model": target.model, "version": number,
                                       "reason": reason, **result}))
    extra = f"; removed aliases {', '.join(result['aliases_removed'])}" if result["aliases_removed"] else ""
    if result.get("removed"):
        click.echo(f"Removed {target.model}@{number}: the remote's main never had it, so no record of it is "
                   f"kept{extra}")
    else:
        click.echo(f"Deleted {target.model}@{number}{extra}")


def _tag_target(reg, ref: str) -> tuple[str, int]:
    """MODEL@N as typed; MODEL@ALIAS as the working tree's branch has it."""
    from ..writes.cards import target

    parsed = parse_ref(ref)
    return (parsed.model, parsed.version) if parsed.version is not None else target(reg.worktree, ref)


def _tag_command(ctx, ref, pairs, keys, reason, as_pr, as_json, event):
    reg = open_registry(ctx)
    model_name, number = _tag_target(reg, ref)
    title = f"{'Tag' if event == 'version.tag' else 'Untag'} {model_name}@{number}"
    result = write_or_propose(reg, as_pr, model_name, "tag", title, lambda: reg.tag_version(
        model_name, number, pairs, keys, reason), as_json)
    if result is None:
        return
    if as_json:
        return emit_json(written(reg, {"event": event, "reason": reason, **result}))
    shown = ", ".join(f"{k}={v}" for k, v in sorted(result["tags"].items())) or "none"
    click.echo(f"{model_name}@{number} tags: {shown}")


@version.command("tag")
@click.argument("ref")
@click.argument("pairs", nargs=-1, metavar="KEY=VALUE...")
@click.option("--reason", help="Why (kept in the commit; 'history' shows it).")
@pr_option
@json_option
@click.pass_context
def version_tag(ctx, ref, pairs, reason, as_pr, as_json):
    """Set tags on REF (MODEL@N); allowed on a merged version, one commit (or --pr)."""
    _tag_command(ctx, ref, parse_pairs(pairs, "tag"), (), reason, as_pr, as_json, "version.tag")


@version.command("untag")
@click.argument("ref")
@click.argument("keys", nargs=-1, metavar="KEY...")
@click.option("--reason", help="Why (kept in the commit; 'history' shows it).")
@pr_option
@json_option
@click.pass_context
def version_untag(ctx, ref, keys, reason, as_pr, as_json):
    """Remove tags from REF (MODEL@N); one commit (or --pr)."""
    _tag_command(ctx, ref, None, keys, reason, as_pr, as_json, "version.untag")


# -- alias and stage -------------------------------------------------------------------
@click.group()
def alias():
    """Move and remove aliases (mutable pointers to versions)."""


@alias.command("set")
@click.argument("model_name", metavar="MODEL")
@click.argument("alias_name", metavar="ALIAS")
@click.argument("number", metavar="VERSION")
@pr_option
@json_option
@click.pass_context
def alias_set(ctx, model_name, alias_name, number, as_pr, as_json):
    """Point MODEL@ALIAS at VERSION."""
    reg = open_registry(ctx)
    result = write_or_propose(reg, as_pr, model_name, "alias", f"Point {model_name}@{alias_name} at {number}",
                              lambda: reg.set_alias(model_name, alias_name, parse_version(number)), as_json)
    if result is None:
        return
    if as_json:
        return emit_json(written(reg, {"event": "alias.set", "model": model_name, "alias": alias_name, **result}))
    was = f" (was {result['previous']})" if result["previous"] else ""
    click.echo(f"{model_name}@{alias_name} -> {result['version']}{was}")


@alias.command("rm")
@click.argument("model_name", metavar="MODEL")
@click.argument("alias_name", metavar="ALIAS")
@json_option
@click.pass_context
def alias_rm(ctx, model_name, alias_name, as_json):
    """Remove MODEL@ALIAS."""
    reg = open_registry(ctx)
    result = reg.remove_alias(model_name, alias_name)
    if as_json:
        return emit_json(written(reg, {"event": "alias.remove", "model": model_name, "alias": alias_name,
                                       **result}))
    click.echo(f"Removed {model_name}@{alias_name} (was {result['previous']})")


@click.group()
def stage():
    """Move versions between stages."""


@stage.command("set")
@click.argument("model_name", metavar="MODEL")
@click.argument("number", metavar="VERSION")
@click.argument("stage_name", metavar="STAGE")
@click.option("--keep-existing", is_flag=True,
              help="Do not archive the versions already in STAGE (refused for exclusive stages).")
@pr_option
@json_option
@click.pass_context
def stage_set(ctx, model_name, number, stage_name, keep_existing, as_pr, as_json):
    """Move MODEL@VERSION to STAGE, as registry.yaml's transitions allow."""
    reg = open_registry(ctx)
    result = write_or_propose(reg, as_pr, model_name, "stage", f"Move {model_name}@{number} to {stage_name}",
                              lambda: reg.transition_stage(model_name, parse_version(number), stage_name,
                                                           archive_existing=False if keep_existing else None),
                              as_json)
    if result is None:
        return
    if as_json:
        moved = [{"model": model_name, "version": n, "from": src, "to": dst}
                 for n, (src, dst) in sorted(result["moved"].items())]
        return emit_json(written(reg, {"event": "version.stage", "model": model_name, "version": parse_version(number),
                                       "stage": stage_name, "moved": moved,
                                       **{k: v for k, v in result.items() if k != "moved"}}))
    for n, (src, dst) in sorted(result["moved"].items()):
        click.echo(f"{model_name}@{n}: {src} -> {dst}")


# -- card ----------------------------------------------------------------------------
@click.group()
def card():
    """Model cards: show, set fields, edit in $EDITOR, export for the Hugging Face Hub."""


@card.command("show")
@click.argument("ref")
@click.option("--at", metavar="GITREF")
@json_option
@click.pass_context
def card_show(ctx, ref, at, as_json):
    """Print REF's card (card.yaml)."""
    from ..store.reads import card as card_at
    from ..writes.cards import as_yaml

    reg = open_registry(ctx)
    resolved = reg.resolve(ref, at=at)
    doc = card_at(reg.snapshot(resolved.commit), resolved.model, resolved.version)
    if as_json:
        return emit_json({"model": resolved.model, "version": resolved.version, "card": doc})
    click.echo(as_yaml(doc).rstrip() or "(empty card)")


@card.command("set")
@click.argument("ref")
@click.option("--field", "fields", multiple=True, metavar="KEY=VALUE",
              help="Set a card field (repeatable); lists take comma-separated values.")
@click.option("--unset", multiple=True, metavar="KEY", help="Remove a field (repeatable).")
@click.option("--from-file", type=click.File("r"), metavar="FILE",
              help="Replace the whole card with this YAML file (then --field/--unset apply).")
@json_option
@click.pass_context
def card_set(ctx, ref, fields, unset, from_file, as_json):
    """Set fields of REF's card (NAME@N or NAME@ALIAS), validated by the schema; one commit."""
    from ..writes.cards import parse_card, parse_fields, update

    if not (fields or unset or from_file):
        raise click.UsageError("give --field KEY=VALUE, --unset KEY or --from-file FILE")
    replace = parse_card(from_file.read(), from_file.name) if from_file else None
    pairs = {}
    for item in fields:  # values are free text: no K=V key rules beyond a name
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.UsageError(f"malformed --field {item!r}: use KEY=VALUE")
        pairs[key] = value
    reg = open_registry(ctx)
    updated = update(reg.worktree, ref, parse_fields(pairs), unset, replace)
    if as_json:
        return emit_json(written(reg, {"event": "card.update", "ref": ref, "card": updated}))
    click.echo(f"Updated the card of {ref}: {', '.join(sorted(updated)) or 'now empty'}")


@card.command("edit")
@click.argument("ref")
@json_option
@click.pass_context
def card_edit(ctx, ref, as_json):
    """Edit REF's card in $EDITOR; saved only if it fits the schema; one commit."""
    from ..writes.cards import as_yaml, current, parse_card, target, update

    reg = open_registry(ctx)
    tree = reg.worktree
    model, number = target(tree, ref)
    before = current(tree, model, number)
    text = click.edit(as_yaml(before) or "# fields: see schemas/card.schema.json\n",
                      extension=".yaml", require_save=True)
    edited = None if text is None else parse_card(text, f"{model}@{number} card")
    if edited is None or edited == before:
        return emit_json({"model": model, "version": number, "changed": False}) if as_json \
            else click.echo("No changes.")
    card = update(tree, f"{model}@{number}", replace=edited)
    if as_json:
        return emit_json(written(reg, {"event": "card.update", "model": model, "version": number,
                                       "changed": True, "card": card}))
    click.echo(f"Updated the card of {model}@{number}")


@card.command("export")
@click.argument("ref")
@click.option("--at", metavar="GITREF")
@click.option("-o", "output", type=click.Path(dir_okay=False), help="Write to a file (README.md).")
@json_option
@click.pass_context
def card_export(ctx, ref, at, output, as_json):
    """Export REF's card as a Hugging Face model card (README.md with YAML metadata)."""
    from ..interop.hf_card import export_hf_card

    reg = open_registry(ctx)
    chain = reg.lineage(ref, at=at)
    text = export_hf_card(reg.snapshot(chain[0].commit), chain)
    if as_json:
        if output:
            with open(output, "w") as fh:
                fh.write(text)
        return emit_json({"model": chain[0].model, "version": chain[0].version, "commit": chain[0].commit,
                          "path": output, **({} if output else {"text": text})})
    if output:
        with open(output, "w") as fh:
            fh.write(text)
        click.echo(f"Wrote {output}")
    else:
        click.echo(text, nl=False)
