"""The mutation engine behind ``make mutation`` (driven by ``tools/mutation.py``).

mutants    mutmut 2.5's operators turned into `Mutant` records (changed lines, a stable id)
scope      where a mutant sits (function body or import-time statement) and the lines whose
           tests can see it
coverage   the coverage pass: which test executes which line, and how long each test takes
patching   applying a mutant to a running interpreter: new ``__code__`` for function bodies,
           a re-executed statement transplanted onto the live objects for the rest
server     a pytest session that collects the tests once and forks one child per mutant
reference  the slow, plain way: a fresh pytest process importing the mutated source
campaign   scheduling, the result cache, the table and the survivors file
"""
