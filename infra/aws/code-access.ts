/**
 * What each worker's code does on AWS, read from its source with the TypeScript compiler: the
 * DynamoDB actions it calls (per table where that can be told), the S3 actions on the lake and the
 * Glue actions on its Iceberg catalog.
 * test/unit/aws-template.test.ts compares it with the declaration in worker-access.ts.
 *
 * How, and why it is not fragile:
 * - Files: the runtime import graph from the catalog entry's `main` (relative imports, re-exports
 *   and dynamic imports; `import type` is left out since it loads nothing). CLI and query modules
 *   that the process never loads do not count.
 * - Call sites: every `new XCommand(...)` (and lib-storage's `new Upload(...)`) whose class the
 *   type checker resolves to an @aws-sdk package. Names are not matched as text, so a renamed
 *   import, a wrapper (shared/dynamodb/batch-writer.ts) or a `Map.delete` changes nothing. A
 *   command the mapping below does not know fails the check, so a new kind of call is never missed.
 *   Transactions count per item: `{ Put | Update | Delete | ConditionCheck: { TableName, ... } }`
 *   literals in a file that builds a TransactWrite command or calls shared/dynamodb/transact.ts.
 * - Which calls run: those reachable from the top-level code of the worker's import graph,
 *   following references (resolved by the checker, so `store.delete` is LakeStore.delete only when
 *   the receiver is a LakeStore; `{ name }` shorthands and re-exports resolve too). Naming a
 *   function in an import is not a reference, and neither is a reference from code nothing
 *   reaches: a store method that only the CLI calls, or a write method of a class whose worker
 *   only reads, is not granted. Methods implementing an interface or overriding a base class
 *   (called through that type, e.g. `definition.handle`, optional hooks like `resumeFrom` too)
 *   count with their class's file. Not seen: calls through computed names (`store[name]()`).
 * - Tables: every `tableName('<key>', ...)` call the worker makes. When it is an argument of
 *   `new SomeStore(...)`, the actions that table may receive are bounded by what that class's
 *   methods (and what they call) do; a table name passed anywhere else may receive anything the
 *   worker does. The split of actions between a store's tables is the declaration's to state.
 * - GSIs: the `IndexName` string literal of a Query/Scan command; any other expression is reported.
 *   The Query helpers of shared/dynamodb/query.ts (`query`, `queryPages`, `queryUntil`) are
 *   call sites of Query with their input argument, as if the command were built there.
 */
import path from 'node:path';
import ts from 'typescript';

export interface DynamoAccess {
  /** Actions on tables ('GetItem', ...) and on GSIs ('Query@by_creator'). */
  actions: Set<string>;
  /** Each table the worker names, with the actions it may receive (undefined: any of `actions`). */
  tables: Map<string, Set<string> | undefined>;
}

export interface CodeAccess {
  dynamodb: DynamoAccess;
  /** S3 actions ('GetObject', ...). */
  s3: Set<string>;
  /** Glue actions ('GetTable', ...): the lake's Iceberg catalog. */
  glue: Set<string>;
  /** Files of the runtime import graph, relative to the repository root. */
  files: string[];
  /** What could not be read (an unknown command, an IndexName that is not a literal, ...). */
  problems: string[];
}

/** lib-dynamodb's document commands, by the API action they send. */
const documentCommands: Record<string, string[]> = {
  GetCommand: ['GetItem'],
  BatchGetCommand: ['BatchGetItem'],
  QueryCommand: ['Query'],
  ScanCommand: ['Scan'],
  PutCommand: ['PutItem'],
  UpdateCommand: ['UpdateItem'],
  DeleteCommand: ['DeleteItem'],
  BatchWriteCommand: ['BatchWriteItem'],
  TransactGetCommand: ['GetItem'],
  // Authorised per item: see transactionItems.
  TransactWriteCommand: [],
};

/** S3 commands (client-s3) and lib-storage's Upload, by the IAM actions that authorise them. */
const s3Commands: Record<string, string[]> = {
  GetObjectCommand: ['GetObject'],
  HeadObjectCommand: ['GetObject'],
  ListObjectsV2Command: ['ListBucket'],
  ListObjectsCommand: ['ListBucket'],
  PutObjectCommand: ['PutObject'],
  CreateMultipartUploadCommand: ['PutObject'],
  UploadPartCommand: ['PutObject'],
  CompleteMultipartUploadCommand: ['PutObject'],
  AbortMultipartUploadCommand: ['AbortMultipartUpload'],
  DeleteObjectCommand: ['DeleteObject'],
  DeleteObjectsCommand: ['DeleteObject'],
  CopyObjectCommand: ['GetObject', 'PutObject'],
  HeadBucketCommand: ['ListBucket'],
  CreateBucketCommand: ['CreateBucket'],
  // PutObject or Create/UploadPart/CompleteMultipartUpload; aborts on failure (leavePartsOnError: false).
  Upload: ['PutObject', 'AbortMultipartUpload'],
};

/** Glue commands (client-glue), by the IAM actions that authorise them: the lake's Iceberg catalog. */
const glueCommands: Record<string, string[]> = {
  GetTableCommand: ['GetTable'],
  CreateTableCommand: ['CreateTable'],
  UpdateTableCommand: ['UpdateTable'],
};

/** The module whose functions send Query with their caller's input. */
const queryHelpers = path.join('shared', 'dynamodb', 'query.ts');

/** SDK classes that send nothing by being constructed. */
const clientClasses = new Set(['DynamoDBClient', 'DynamoDBDocumentClient', 'S3Client', 'GlueClient']);

const transactionItemKinds: Record<string, string> = {
  Put: 'PutItem',
  Update: 'UpdateItem',
  Delete: 'DeleteItem',
  ConditionCheck: 'ConditionCheckItem',
};

interface OpSite {
  service: 'dynamodb' | 's3' | 'glue';
  actions: string[];
}

interface Unit {
  key: string;
  file: string;
  /** The class it is a member of, for member units. */
  owner: ts.ClassDeclaration | undefined;
  ops: OpSite[];
  /** What could not be read in it (reported for the processes that use it). */
  problems: string[];
  refs: Set<string>;
  /** `tableName(...)` calls inside it. */
  tableCalls: ts.CallExpression[];
}

function isTopLevel(node: ts.Node): boolean {
  return ts.isSourceFile(node.parent);
}

/** The node a unit is keyed by, when `node` starts one: module-level functions and variables, members of module-level classes. */
function unitNode(node: ts.Node): boolean {
  if (ts.isFunctionDeclaration(node) || ts.isClassDeclaration(node)) return isTopLevel(node);
  if (ts.isVariableDeclaration(node))
    return ts.isVariableDeclarationList(node.parent) && isTopLevel(node.parent.parent);
  if (
    ts.isMethodDeclaration(node) ||
    ts.isConstructorDeclaration(node) ||
    ts.isGetAccessorDeclaration(node) ||
    ts.isSetAccessorDeclaration(node) ||
    ts.isPropertyDeclaration(node)
  )
    return ts.isClassDeclaration(node.parent) && isTopLevel(node.parent);
  return false;
}

function keyOf(node: ts.Node): string {
  return `${node.getSourceFile().fileName}:${node.pos}`;
}

/** The unit a node belongs to: its nearest unit ancestor (a class body counts as the class), or the file's top level. */
function enclosingUnitKey(node: ts.Node): string {
  for (let n: ts.Node | undefined = node.parent; n; n = n.parent) {
    if (unitNode(n) && !ts.isClassDeclaration(n)) return keyOf(n);
  }
  return `${node.getSourceFile().fileName}:top`;
}

/** The name of what a declaration declares (not a reference to anything). */
function isDeclarationName(node: ts.Identifier): boolean {
  const p = node.parent;
  return (
    (ts.isFunctionDeclaration(p) ||
      ts.isClassDeclaration(p) ||
      ts.isMethodDeclaration(p) ||
      ts.isPropertyDeclaration(p) ||
      ts.isGetAccessorDeclaration(p) ||
      ts.isSetAccessorDeclaration(p) ||
      ts.isVariableDeclaration(p) ||
      ts.isParameter(p)) &&
    p.name === node
  );
}

/**
 * Whether a name sits in an import, or in a re-export from another module: naming a function
 * there calls nothing (a use elsewhere resolves through the alias to the function itself).
 */
function inModuleClause(node: ts.Node): boolean {
  for (let n: ts.Node | undefined = node.parent; n && !ts.isSourceFile(n); n = n.parent) {
    if (ts.isImportDeclaration(n) || ts.isImportEqualsDeclaration(n)) return true;
    if (ts.isExportDeclaration(n)) return n.moduleSpecifier !== undefined;
  }
  return false;
}

/** The @aws-sdk package (the innermost, if nested) a declaration comes from. */
function packageOf(declaration: ts.Declaration): string | undefined {
  const found = [...declaration.getSourceFile().fileName.matchAll(/node_modules\/@aws-sdk\/([^/]+)\//g)];
  return found.at(-1)?.[1];
}

function stringProperty(object: ts.ObjectLiteralExpression, name: string): ts.Expression | undefined {
  for (const p of object.properties) {
    if (ts.isPropertyAssignment(p) && ts.isIdentifier(p.name) && p.name.text === name) return p.initializer;
  }
  return undefined;
}

/** Reads the repository once; `of(main)` then answers per entry point. */
export class CodeAccessReader {
  private readonly root: string;
  private readonly program: ts.Program;
  private readonly checker: ts.TypeChecker;
  private readonly units = new Map<string, Unit>();
  /** Class units whose refs are their interface members (readHeritage). */
  private readonly heritageUnits = new Set<string>();

  constructor(root: string, mains: readonly string[]) {
    this.root = root;
    const configPath = path.join(root, 'tsconfig.json');
    const config = ts.readConfigFile(configPath, (p) => ts.sys.readFile(p));
    const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, root);
    this.program = ts.createProgram({
      rootNames: mains.map((m) => path.resolve(root, m)),
      options: { ...parsed.options, noEmit: true },
    });
    this.checker = this.program.getTypeChecker();
    for (const file of this.program.getSourceFiles()) {
      if (this.isOwn(file)) this.readFile(file);
    }
  }

  private isOwn(file: ts.SourceFile): boolean {
    return !file.isDeclarationFile && !file.fileName.includes('/node_modules/');
  }

  private relative(file: string): string {
    return path.relative(this.root, file);
  }

  private unit(key: string, file: string, owner?: ts.ClassDeclaration): Unit {
    let unit = this.units.get(key);
    if (!unit) {
      unit = { key, file, owner, ops: [], problems: [], refs: new Set(), tableCalls: [] };
      this.units.set(key, unit);
    }
    return unit;
  }

  private unitAt(node: ts.Node): Unit {
    const key = enclosingUnitKey(node);
    let owner: ts.ClassDeclaration | undefined;
    for (let n: ts.Node | undefined = node.parent; n; n = n.parent) {
      if (unitNode(n) && !ts.isClassDeclaration(n)) {
        owner = ts.isClassDeclaration(n.parent) ? n.parent : undefined;
        break;
      }
    }
    return this.unit(key, node.getSourceFile().fileName, owner);
  }

  /** The declaration a name refers to, through import aliases (and `{ name }` shorthands). */
  private declarationsOf(node: ts.Node): ts.Declaration[] {
    let symbol =
      ts.isShorthandPropertyAssignment(node.parent) && node.parent.name === node
        ? this.checker.getShorthandAssignmentValueSymbol(node.parent)
        : this.checker.getSymbolAtLocation(node);
    if (!symbol) return [];
    if (symbol.flags & ts.SymbolFlags.Alias) symbol = this.checker.getAliasedSymbol(symbol);
    return symbol.declarations ?? [];
  }

  /** Unit keys a declaration stands for: the unit itself, or a class's constructor. */
  private targetUnits(declaration: ts.Declaration): string[] {
    if (!this.isOwn(declaration.getSourceFile())) return [];
    if (ts.isClassDeclaration(declaration)) {
      const ctor = declaration.members.find(ts.isConstructorDeclaration);
      return ctor ? [keyOf(ctor)] : [];
    }
    return unitNode(declaration) ? [keyOf(declaration)] : [];
  }

  private readFile(file: ts.SourceFile): void {
    const transactional = /\bTransactWrite(Items)?Command\b|\btransactWrite(If)?\(/.test(file.text);
    const visit = (node: ts.Node): void => {
      if (ts.isClassDeclaration(node) && isTopLevel(node)) this.readHeritage(node);
      if (ts.isNewExpression(node)) this.readNew(node);
      if (ts.isCallExpression(node) && this.isTableNameCall(node)) this.unitAt(node).tableCalls.push(node);
      if (
        ts.isCallExpression(node) &&
        this.isQueryHelperCall(node) &&
        this.relative(file.fileName) !== queryHelpers
      )
        this.pushQuery(node, 'query helper', node.arguments[1]);
      if (transactional && ts.isPropertyAssignment(node) && ts.isIdentifier(node.name)) {
        const action = transactionItemKinds[node.name.text];
        if (
          action &&
          ts.isObjectLiteralExpression(node.initializer) &&
          stringProperty(node.initializer, 'TableName')
        )
          this.unitAt(node).ops.push({ service: 'dynamodb', actions: [action] });
      }
      if (ts.isIdentifier(node) && !isDeclarationName(node) && !inModuleClause(node)) {
        const from = this.unitAt(node);
        for (const d of this.declarationsOf(node))
          for (const target of this.targetUnits(d)) if (target !== from.key) from.refs.add(target);
      }
      ts.forEachChild(node, visit);
    };
    visit(file);
  }

  /**
   * Methods that implement an interface or override a base class are called through that type
   * (the runtime calls `definition.handle(...)`), which resolves to the interface's member: the
   * class refers to them itself, so they count whenever the class's file is loaded.
   */
  private readHeritage(node: ts.ClassDeclaration): void {
    const names = this.heritageNames(node);
    if (names.size === 0) return;
    const unit = this.unit(keyOf(node), node.getSourceFile().fileName);
    this.heritageUnits.add(unit.key);
    for (const member of node.members)
      if (member.name && names.has(member.name.getText()) && unitNode(member)) unit.refs.add(keyOf(member));
  }

  /** Member names of what a class extends or implements, and of what those classes implement in turn (optional hooks too). */
  private heritageNames(node: ts.ClassDeclaration): Set<string> {
    const names = new Set<string>();
    for (const t of (node.heritageClauses ?? []).flatMap((clause) => clause.types)) {
      const type = this.checker.getTypeAtLocation(t);
      for (const p of type.getProperties()) names.add(p.name);
      for (const d of type.getSymbol()?.declarations ?? [])
        if (ts.isClassDeclaration(d)) for (const n of this.heritageNames(d)) names.add(n);
    }
    return names;
  }

  private isTableNameCall(node: ts.CallExpression): boolean {
    return this.declarationsOf(node.expression).some(
      (d) =>
        ts.isFunctionDeclaration(d) &&
        d.name?.text === 'tableName' &&
        this.relative(d.getSourceFile().fileName) === path.join('schemas', 'tables.ts'),
    );
  }

  /** Whether `node` calls one of shared/dynamodb/query.ts's functions (each sends Query with its second argument). */
  private isQueryHelperCall(node: ts.CallExpression): boolean {
    return this.declarationsOf(node.expression).some(
      (d) => ts.isFunctionDeclaration(d) && this.relative(d.getSourceFile().fileName) === queryHelpers,
    );
  }

  /** A Query at `node`: on the GSI its input's IndexName names, or on the table. */
  private pushQuery(node: ts.Node, what: string, input: ts.Expression | undefined): void {
    this.pushReadOf(node, what, { service: 'dynamodb', actions: ['Query'] }, input);
  }

  private pushReadOf(node: ts.Node, what: string, site: OpSite, input: ts.Expression | undefined): void {
    const where = `${this.relative(node.getSourceFile().fileName)}:${node.getSourceFile().getLineAndCharacterOfPosition(node.getStart()).line + 1}`;
    const unit = this.unitAt(node);
    const index =
      input && ts.isObjectLiteralExpression(input) ? stringProperty(input, 'IndexName') : undefined;
    if (index) {
      if (ts.isStringLiteralLike(index))
        site = { ...site, actions: site.actions.map((a) => `${a}@${index.text}`) };
      else unit.problems.push(`${where}: IndexName is not a string literal`);
    } else if (input && !ts.isObjectLiteralExpression(input)) {
      unit.problems.push(`${where}: the ${what} input is not an object literal (its IndexName is unknown)`);
    }
    unit.ops.push(site);
  }

  private readNew(node: ts.NewExpression): void {
    const declaration = this.declarationsOf(node.expression)[0];
    const pkg = declaration && packageOf(declaration);
    if (!pkg) return;
    const resolvedName = (declaration as ts.NamedDeclaration).name?.getText() ?? node.expression.getText();
    const where = `${this.relative(node.getSourceFile().fileName)}:${node.getSourceFile().getLineAndCharacterOfPosition(node.getStart()).line + 1}`;
    if (clientClasses.has(resolvedName)) return;
    // The Query helpers build the command from their caller's input: the callers are the sites.
    if (this.relative(node.getSourceFile().fileName) === queryHelpers) return;
    let site: OpSite | undefined;
    if (pkg === 'lib-dynamodb' && resolvedName in documentCommands) {
      site = { service: 'dynamodb', actions: documentCommands[resolvedName]! };
    } else if (pkg === 'client-dynamodb' && resolvedName.endsWith('Command')) {
      const action = resolvedName.slice(0, -'Command'.length);
      if (action === 'TransactWriteItems') site = { service: 'dynamodb', actions: [] };
      else if (action === 'TransactGetItems') site = { service: 'dynamodb', actions: ['GetItem'] };
      // Every other DynamoDB API call is authorised by the IAM action of the same name.
      else site = { service: 'dynamodb', actions: [action] };
    } else if ((pkg === 'client-s3' || pkg === 'lib-storage') && resolvedName in s3Commands) {
      site = { service: 's3', actions: s3Commands[resolvedName]! };
    } else if (pkg === 'client-glue' && resolvedName in glueCommands) {
      site = { service: 'glue', actions: glueCommands[resolvedName]! };
    }
    const unit = this.unitAt(node);
    if (!site) {
      unit.problems.push(
        `${where}: new ${resolvedName} (@aws-sdk/${pkg}) is not in infra/aws/code-access.ts`,
      );
      return;
    }
    if (site.service === 'dynamodb' && site.actions.some((a) => a === 'Query' || a === 'Scan'))
      this.pushReadOf(node, resolvedName, site, node.arguments?.[0]);
    else unit.ops.push(site);
  }

  /** The runtime import graph from a file: relative static imports (not `import type`), re-exports, dynamic imports. */
  private runtimeFiles(main: string, problems: string[]): Set<string> {
    const seen = new Set<string>();
    const pending = [path.resolve(this.root, main)];
    while (pending.length > 0) {
      const fileName = pending.pop()!;
      if (seen.has(fileName)) continue;
      seen.add(fileName);
      const file = this.program.getSourceFile(fileName);
      if (!file) {
        problems.push(`${this.relative(fileName)} is not part of the program`);
        continue;
      }
      const specifiers: string[] = [];
      const visit = (node: ts.Node): void => {
        if (ts.isImportDeclaration(node) && !node.importClause?.isTypeOnly)
          specifiers.push((node.moduleSpecifier as ts.StringLiteral).text);
        else if (ts.isExportDeclaration(node) && node.moduleSpecifier && !node.isTypeOnly)
          specifiers.push((node.moduleSpecifier as ts.StringLiteral).text);
        else if (
          ts.isCallExpression(node) &&
          node.expression.kind === ts.SyntaxKind.ImportKeyword &&
          node.arguments[0] &&
          ts.isStringLiteralLike(node.arguments[0])
        )
          specifiers.push(node.arguments[0].text);
        ts.forEachChild(node, visit);
      };
      visit(file);
      for (const s of specifiers) {
        if (s.startsWith('.')) pending.push(path.resolve(path.dirname(fileName), s));
      }
    }
    return seen;
  }

  /** Units reachable from some units, following references. */
  private closure(start: Iterable<string>): Unit[] {
    const seen = new Set<string>();
    const pending = [...start];
    const reached: Unit[] = [];
    while (pending.length > 0) {
      const key = pending.pop()!;
      if (seen.has(key)) continue;
      seen.add(key);
      const unit = this.units.get(key);
      if (!unit) continue;
      reached.push(unit);
      pending.push(...unit.refs);
    }
    return reached;
  }

  of(main: string): CodeAccess {
    const problems: string[] = [];
    const files = this.runtimeFiles(main, problems);
    // What runs: the graph's top-level code and its classes' interface members, and what they
    // refer to, transitively. A function only dead code refers to is not granted.
    const roots = [...this.units.values()]
      .filter((u) => files.has(u.file) && (u.key.endsWith(':top') || this.heritageUnits.has(u.key)))
      .map((u) => u.key);
    const usedUnits = this.closure(roots);
    const used = new Set(usedUnits.map((u) => u.key));
    problems.push(...usedUnits.flatMap((u) => u.problems));
    const ops = usedUnits.flatMap((u) => u.ops);
    const actionsOf = (sites: OpSite[], service: OpSite['service']) =>
      new Set(sites.filter((s) => s.service === service).flatMap((s) => s.actions));
    const actions = actionsOf(ops, 'dynamodb');

    const tables = new Map<string, Set<string> | undefined>();
    for (const unit of usedUnits) {
      for (const call of unit.tableCalls) {
        const arg = call.arguments[0];
        if (!arg || !ts.isStringLiteralLike(arg)) {
          problems.push(`${this.relative(unit.file)}: tableName() with a key that is not a string literal`);
          continue;
        }
        const bound = this.constructedWith(call, used);
        const before = tables.get(arg.text);
        if (tables.has(arg.text) && before === undefined) continue; // already unbounded
        if (bound === undefined) tables.set(arg.text, undefined);
        else tables.set(arg.text, new Set([...(before ?? []), ...actionsOf(bound, 'dynamodb')]));
      }
    }
    return {
      dynamodb: { actions, tables },
      s3: actionsOf(ops, 's3'),
      glue: actionsOf(ops, 'glue'),
      files: [...files].map((f) => this.relative(f)).sort(),
      problems,
    };
  }

  /** When a table name is an argument of `new C(...)` for a class of this repository: what C's used methods do. */
  private constructedWith(call: ts.CallExpression, used: Set<string>): OpSite[] | undefined {
    let n: ts.Node = call;
    while (n.parent && !ts.isNewExpression(n.parent)) {
      if (ts.isStatement(n.parent) || ts.isFunctionLike(n.parent)) return undefined;
      n = n.parent;
    }
    const construction = n.parent;
    if (!construction || !ts.isNewExpression(construction) || construction.expression === n) return undefined;
    const cls = this.declarationsOf(construction.expression).find(ts.isClassDeclaration);
    if (!cls || !this.isOwn(cls.getSourceFile())) return undefined;
    const members = [...this.units.values()].filter((u) => u.owner === cls && used.has(u.key));
    return this.closure(members.map((u) => u.key)).flatMap((u) => u.ops);
  }
}
