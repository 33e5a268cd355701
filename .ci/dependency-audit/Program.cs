// Every package must declare the packages it uses directly. Inside this repository central transitive pinning
// (Directory.Packages.props) lifts transitive packages to the pinned versions, so a project can compile against,
// say, Google.Protobuf 3.36.2 that reaches it only through Microsoft.ML.Tokenizers (which asks for 3.30.2). A
// project outside the repository does not pin: it gets the lower version and fails with "Could not load file or
// assembly". This audit reads each built project's assembly references (its compiled dll) and its restore graph
// (obj/project.assets.json): every NuGet package that supplies a referenced assembly must be one of the project's
// own PackageReferences (or come from a ProjectReference). Exit code 0 when all are declared, 1 otherwise.
//   usage: DependencyAudit <configuration> <project.csproj>...
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Text.Json;

if (args.Length < 2)
{
    Console.Error.WriteLine("usage: DependencyAudit <configuration> <project.csproj>...");
    return 2;
}

string configuration = args[0];
int undeclared = 0;
foreach (string project in args.Skip(1))
{
    string directory = Path.GetDirectoryName(Path.GetFullPath(project))!;
    string name = Path.GetFileNameWithoutExtension(project);
    using JsonDocument assets = JsonDocument.Parse(File.ReadAllText(Path.Combine(directory, "obj", "project.assets.json")));
    JsonElement root = assets.RootElement;
    JsonProperty framework = root.GetProperty("project").GetProperty("frameworks").EnumerateObject().Single();
    string tfm = framework.Name;
    string dll = Path.Combine(directory, "bin", configuration, tfm, name + ".dll");

    var referenced = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
    using (var pe = new PEReader(File.OpenRead(dll)))
    {
        MetadataReader metadata = pe.GetMetadataReader();
        foreach (AssemblyReferenceHandle handle in metadata.AssemblyReferences)
        {
            referenced.Add(metadata.GetString(metadata.GetAssemblyReference(handle).Name));
        }
    }

    // Direct declarations: PackageReferences and ProjectReferences of this project.
    var declared = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
    if (framework.Value.TryGetProperty("dependencies", out JsonElement dependencies))
    {
        foreach (JsonProperty dependency in dependencies.EnumerateObject())
        {
            declared.Add(dependency.Name);
        }
    }

    // Which package supplies each compile-time assembly.
    var supplier = new Dictionary<string, (string Id, string Version, bool IsProject)>(StringComparer.OrdinalIgnoreCase);
    foreach (JsonProperty library in root.GetProperty("targets").GetProperty(tfm).EnumerateObject())
    {
        string[] idAndVersion = library.Name.Split('/');
        bool isProject = library.Value.GetProperty("type").GetString() == "project";
        if (isProject)
        {
            declared.Add(idAndVersion[0]); // a project in the graph comes from a ProjectReference
        }

        if (library.Value.TryGetProperty("compile", out JsonElement compile))
        {
            foreach (JsonProperty file in compile.EnumerateObject())
            {
                if (file.Name.EndsWith(".dll", StringComparison.OrdinalIgnoreCase))
                {
                    supplier[Path.GetFileNameWithoutExtension(file.Name)] = (idAndVersion[0], idAndVersion[1], isProject);
                }
            }
        }

        if (isProject)
        {
            supplier[idAndVersion[0]] = (idAndVersion[0], idAndVersion[1], true);
        }
    }

    int packages = 0;
    foreach (string assembly in referenced.Order(StringComparer.OrdinalIgnoreCase))
    {
        if (!supplier.TryGetValue(assembly, out var source))
        {
            continue; // the shared framework
        }

        packages++;
        if (!source.IsProject && !declared.Contains(source.Id))
        {
            undeclared++;
            Console.WriteLine($"{name}: uses {assembly}.dll from package {source.Id} {source.Version} but has no PackageReference to {source.Id}");
        }
    }

    Console.WriteLine($"{name}: {packages} referenced package/project assemblies checked");
}

return undeclared == 0 ? 0 : 1;
