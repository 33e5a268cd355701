using System.Reflection;
using LlmKit.Benchmarks;

// Each benchmark is an IBenchCommand found by reflection, so adding one touches no shared file.
var commands = typeof(Program).Assembly.GetTypes()
    .Where(t => typeof(IBenchCommand).IsAssignableFrom(t) && t is { IsAbstract: false, IsInterface: false })
    .Select(t => (IBenchCommand)Activator.CreateInstance(t, nonPublic: true)!)
    .OrderBy(c => c.Name, StringComparer.Ordinal)
    .ToList();

var chosen = args.Length > 0 ? commands.FirstOrDefault(c => c.Name == args[0]) : null;
if (chosen is null)
{
    Console.Error.WriteLine("usage: dotnet run -c Release --project bench/LlmKit.Benchmarks -- <command> [options]");
    foreach (var c in commands)
    {
        Console.Error.WriteLine($"  {c.Name,-12} {c.Summary}");
    }

    return args.Length == 0 ? 0 : 2;
}

using var cts = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; cts.Cancel(); };
return await chosen.RunAsync(args[1..], cts.Token);
