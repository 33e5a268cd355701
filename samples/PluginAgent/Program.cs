using System.CommandLine;
using System.Text;
using LlmKit.Chat.Templates;
using LlmKit.Models;
using LlmKit.Plugins.Compression;
using LlmKit.Samples.Shared;
using Microsoft.Extensions.Options;
using PluginAgent;
using Spectre.Console;

// dotnet run --project samples/PluginAgent -- [--model DIR] [--embeddings minilm|hashing] [--demo] [--prompt TEXT]
Console.OutputEncoding = Encoding.UTF8;

var model = new Option<string?>("--model") { Description = "ONNX GenAI model folder (default: $LLMKIT_MODEL, else the stories260K fixture)" };
var demo = new Option<bool>("--demo") { Description = "run the scripted tour: one section per plugin, then the whole pipeline" };
var prompt = new Option<string?>("--prompt") { Description = "run one guest input through the whole pipeline and exit" };
var embeddingsOption = new Option<string>("--embeddings")
{
    Description = "embedding generator of the plugins: minilm (all-MiniLM-L6-v2, offline, the default) or hashing",
    DefaultValueFactory = _ => "minilm",
};
embeddingsOption.AcceptOnlyFromAmong("minilm", "hashing");

var root = new RootCommand("PluginAgent: LlmKit's moderation, few-shot, compression and ordinal plugins around a local model in one Semantic Kernel agent.")
{
    model, demo, prompt, embeddingsOption,
};

root.SetAction(async (parse, cancellationToken) =>
{
    bool runDemo = parse.GetValue(demo);
    string? input = parse.GetValue(prompt);
    if (runDemo && input is not null)
    {
        Console.Error.WriteLine("pluginagent: use --demo or --prompt, not both.");
        return 2;
    }

    if (input is not null && string.IsNullOrWhiteSpace(input))
    {
        Console.Error.WriteLine("pluginagent: --prompt needs a non-empty text.");
        return 2;
    }

    var report = new Report(Console.Out);
    try
    {
        string folder = ModelLocator.Resolve(parse.GetValue(model), message => Console.Error.WriteLine($"pluginagent: {message}"));
        var data = AgentData.Load();
        Agent started;
        try
        {
            started = await Agent.CreateAsync(folder, data, cancellationToken, parse.GetValue(embeddingsOption)!);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Whatever a bad model folder makes loading throw (even an exception type it should not): one line naming
            // the folder, never a stack trace.
            string message = ex.Message.Contains(folder, StringComparison.Ordinal) ? ex.Message : $"{folder}: {ex.Message}";
            Console.Error.WriteLine($"pluginagent: {message.ReplaceLineEndings(" ")}");
            return 1;
        }

        using var agent = started;
        if (runDemo)
        {
            await Demo.RunAsync(agent, report, cancellationToken);
        }
        else if (input is not null)
        {
            report.Startup(agent);
            report.Line($"input: \"{input.ReplaceLineEndings(" ")}\"");
            report.Turn(await agent.RunAsync(input, cancellationToken));
        }
        else
        {
            await InteractiveAsync(agent, report, cancellationToken);
        }

        return 0;
    }
    catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException or ModelFolderException or ChatTemplateException
        or NotSupportedException or ArgumentException or InvalidDataException or PromptCompressionException or InvalidOperationException
        or OptionsValidationException)
    {
        Console.Error.WriteLine($"pluginagent: {ex.Message.ReplaceLineEndings(" ")}");
        return 1;
    }
});

var parsed = root.Parse(args);
if (parsed.Errors.Count > 0)
{
    foreach (var error in parsed.Errors)
    {
        Console.Error.WriteLine($"pluginagent: {error.Message}");
    }

    return 2;
}

return await parsed.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = true });

static async Task InteractiveAsync(Agent agent, Report report, CancellationToken cancellationToken)
{
    report.Startup(agent);
    AnsiConsole.MarkupLine("[grey]Ask the Copper Pot's assistant something. Every line goes through the whole pipeline; /exit quits.[/]");
    while (!cancellationToken.IsCancellationRequested)
    {
        AnsiConsole.Markup("[green]guest>[/] ");
        string? line = Console.ReadLine();
        if (line is null || line.Trim() is "/exit" or "/quit")
        {
            break;
        }

        if (line.Trim().Length == 0)
        {
            continue;
        }

        try
        {
            report.Turn(await agent.RunAsync(line, cancellationToken));
        }
        catch (ArgumentException ex)
        {
            // e.g. a message longer than the model's window: report it and keep the session.
            AnsiConsole.MarkupLine($"[red]{Markup.Escape(ex.Message.Split(" (Parameter", 2)[0])}[/]");
        }
    }
}
