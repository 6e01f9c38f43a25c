"""`modelreg check`: the rules about a registry's content and about changes to it.

- context.py   what a rule sees: `Problem`, and the typed `Context` (snapshots, the change,
               the settings in force, and the services a rule may use: local files, the
               remote, the base branch's history)
- catalog.py   every rule, listed in one place, and `run(ctx)`
- records.py   rules about the records at the head (schemas, layout, names, pointers,
               aliases, lineage, credentials, adapter files)
- changes.py   rules about what a change does to merged records (judged by the BASE's policy)
- gates.py, approvals.py   a pull request's gates and approval groups (pure)
- pull.py      a pull request's report: gates and approvals of a Change, reviews through the forge
- render.py    the words of the PR comment
- check.py     `run_check`: picks the snapshots and the scope, builds the context, runs it all
Supply-chain rules (signatures, formats, chat templates) live in supply/rules.py.
"""
