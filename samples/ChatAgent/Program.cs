using System.CommandLine;
using System.Text;
using ChatAgent;
using LlmKit.Chat.Templates;
using LlmKit.Generation;
using LlmKit.Models;

// dotnet run --project samples/ChatAgent -- [--model DIR] [--prompt TEXT] [--system TEXT] [--raw] [--temperature T]
//     [--top-p P] [--top-k K] [--max-tokens N] [--seed S] [--template NAME]
Console.OutputEncoding = Encoding.UTF8;

var model = new Option<string?>("--model") { Description = "ONNX GenAI model folder (default: $LLMKIT_MODEL, else the stories260K fixture)" };
var prompt = new Option<string?>("--prompt") { Description = "answer this once: the generated text on stdout, statistics on stderr" };
var system = new Option<string?>("--system") { Description = "system message" };
var raw = new Option<bool>("--raw") { Description = "send the prompt as plain completion text (no chat template)" };
var temperature = new Option<float?>("--temperature") { Description = "sampling temperature (0 = greedy)" };
var topP = new Option<float?>("--top-p") { Description = "nucleus sampling threshold in (0, 1]" };
var topK = new Option<int?>("--top-k") { Description = "keep the k most likely tokens" };
var maxTokens = new Option<int?>("--max-tokens") { Description = "most new tokens per answer" };
var seed = new Option<long?>("--seed") { Description = "sampler seed" };
var template = new Option<ChatTemplateKind>("--template") { Description = "chat template (default: recognised from the model folder)", DefaultValueFactory = _ => ChatTemplateKind.Auto };

var root = new RootCommand("ChatAgent: chat with a local ONNX GenAI model through LlmKit.")
{
    model, prompt, system, raw, temperature, topP, topK, maxTokens, seed, template,
};

root.SetAction(async (parse, cancellationToken) =>
{
    var generation = new GenerationOptions
    {
        Temperature = parse.GetValue(temperature),
        TopP = parse.GetValue(topP),
        TopK = parse.GetValue(topK),
        MaxNewTokens = parse.GetValue(maxTokens),
        Seed = parse.GetValue(seed),
    };
    try
    {
        generation.Validate();
    }
    catch (ArgumentException ex)
    {
        Console.Error.WriteLine($"chatagent: {ex.Message.Split(" (Parameter", 2)[0]}");
        return 2;
    }

    var settings = new ChatAgentSettings(parse.GetValue(model), parse.GetValue(prompt), parse.GetValue(system), parse.GetValue(raw), parse.GetValue(template), generation);
    try
    {
        return settings.Prompt is null
            ? await InteractiveChat.RunAsync(settings, cancellationToken)
            : await OneShot.RunAsync(settings, Console.Out, Console.Error, cancellationToken);
    }
    catch (Exception ex) when (ex is ConfigurationException or FileNotFoundException or ModelFolderException or ChatTemplateException or NotSupportedException or ArgumentException)
    {
        // Configuration errors (a bad model folder, template or setting): one line on stderr, no stack trace.
        Console.Error.WriteLine($"chatagent: {ex.Message.ReplaceLineEndings(" ")}");
        return 1;
    }
});

var parsed = root.Parse(args);
if (parsed.Errors.Count > 0)
{
    foreach (var error in parsed.Errors)
    {
        Console.Error.WriteLine($"chatagent: {error.Message}");
    }

    return 2;
}

return await parsed.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = true });
