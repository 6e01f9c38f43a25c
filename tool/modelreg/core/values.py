"""Value classes for the read path, without the dataclasses module: `@value` and `field`.

`dataclasses` imports inspect (with ast, dis and tokenize) and writes each class's methods
through exec: ~10 ms of every fresh process, a fifth of a cold `modelreg resolve` (issue 23).
The classes a resolve touches (ModelRef, Resolved, Settings, Link, Commit, ...) are plain
records, and this gives them what @dataclass gave: `__init__` over the annotated fields in
order (defaults, `field(default_factory=...)`), `__eq__` over the compared fields, `__hash__`
for frozen classes (unhashable otherwise, as with eq=True), a repr of the shown fields, and for
frozen classes no assignment after `__init__` (FrozenInstanceError, an AttributeError). Methods
the class defines itself are kept. Other modules keep using dataclasses.
"""
MISSING = object()


class FrozenInstanceError(AttributeError):
    """Assigning to a field of a frozen value."""


class Field:
    __slots__ = ("default", "factory", "compare", "repr")

    def __init__(self, default=MISSING, factory=MISSING, compare: bool = True, repr: bool = True):  # noqa: A002
        self.default, self.factory, self.compare, self.repr = default, factory, compare, repr


def field(*, default=MISSING, default_factory=MISSING, compare: bool = True, repr: bool = True):  # noqa: A002
    return Field(default, default_factory, compare, repr)


def value(cls=None, *, frozen: bool = True):
    """Class decorator: `@value` (frozen) or `@value(frozen=False)`."""
    def wrap(cls):
        return _build(cls, frozen)
    return wrap if cls is None else wrap(cls)


def _build(cls, frozen: bool):
    specs = []
    for name in cls.__dict__.get("__annotations__", {}):
        spec = cls.__dict__.get(name, MISSING)
        spec = spec if isinstance(spec, Field) else Field(default=spec)
        if spec.default is MISSING and spec.factory is MISSING and any(s.default is not MISSING or
                                                                          s.factory is not MISSING for _, s in specs):
            raise TypeError(f"{cls.__name__}: field {name!r} without a default follows one with a default")
        specs.append((name, spec))
        if spec.default is not MISSING:
            setattr(cls, name, spec.default)
        elif name in cls.__dict__:
            delattr(cls, name)
    names = tuple(name for name, _ in specs)
    compared = tuple(name for name, spec in specs if spec.compare)
    shown = tuple(name for name, spec in specs if spec.repr)
    put = object.__setattr__

    def __init__(self, *args, **kwargs):
        if len(args) > len(names):
            raise TypeError(f"{cls.__name__}() takes {len(names)} arguments but {len(args)} were given")
        given = dict(zip(names, args))
        for key, item in kwargs.items():
            if key not in names or key in given:
                raise TypeError(f"{cls.__name__}() got an unexpected or repeated argument {key!r}")
            given[key] = item
        for name, spec in specs:
            if name in given:
                put(self, name, given[name])
            elif spec.default is not MISSING:
                put(self, name, spec.default)
            elif spec.factory is not MISSING:
                put(self, name, spec.factory())
            else:
                raise TypeError(f"{cls.__name__}() missing required argument {name!r}")

    def __eq__(self, other):
        if other.__class__ is not self.__class__:
            return NotImplemented
        return tuple(getattr(self, n) for n in compared) == tuple(getattr(other, n) for n in compared)

    def __repr__(self):
        return f"{cls.__qualname__}({', '.join(f'{n}={getattr(self, n)!r}' for n in shown)})"

    methods = {"__init__": __init__, "__eq__": __eq__, "__repr__": __repr__, "__match_args__": names}
    if frozen:
        def __setattr__(self, name, _value):
            raise FrozenInstanceError(f"cannot assign to field {name!r}")

        def __delattr__(self, name):
            raise FrozenInstanceError(f"cannot delete field {name!r}")

        def __hash__(self):
            return hash(tuple(getattr(self, n) for n in compared))
        methods.update(__setattr__=__setattr__, __delattr__=__delattr__, __hash__=__hash__)
    elif "__eq__" not in cls.__dict__:
        methods["__hash__"] = None  # as @dataclass(eq=True): equal by value, so not hashable
    for name, method in methods.items():
        if name not in cls.__dict__ or (name == "__hash__" and cls.__dict__.get("__hash__") is None):
            if callable(method):
                method.__qualname__ = f"{cls.__qualname__}.{name}"
            setattr(cls, name, method)
    return cls
