using LlmKit.Chat.Templates;
using LlmKit.Models;
using Microsoft.Extensions.Options;

namespace LlmKit.Hosting;

/// <summary>Checks <see cref="LlmKitOptions"/> before any model is loaded: each failure names the setting and what is allowed.</summary>
internal sealed class LlmKitOptionsValidator(IEnumerable<ILlmKitEngineProvider> engines) : IValidateOptions<LlmKitOptions>
{
    public ValidateOptionsResult Validate(string? name, LlmKitOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        string prefix = string.IsNullOrEmpty(name) ? "LlmKit" : $"LlmKit[{name}]";
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(options.ModelPath))
        {
            failures.Add($"{prefix}:ModelPath is required: set it to an ONNX GenAI model folder (with genai_config.json, the decoder .onnx file and a tokenizer).");
        }
        else
        {
            string folder = Path.GetFullPath(options.ModelPath);
            if (!Directory.Exists(folder))
            {
                failures.Add($"{prefix}:ModelPath '{folder}' does not exist.");
            }
            else if (!File.Exists(Path.Combine(folder, GenAIConfigReader.FileName)))
            {
                failures.Add($"{prefix}:ModelPath '{folder}' has no {GenAIConfigReader.FileName}: it is not an ONNX GenAI model folder.");
            }
        }

        if (!LlmKitEngines.IsBuiltIn(options.Engine) && LlmKitEngines.Find(engines, options.Engine!) is null)
        {
            failures.Add(LlmKitEngines.NotRegisteredMessage($"{prefix}:Engine", options.Engine!, engines.Select(e => e.Name)));
        }

        if (!Enum.IsDefined(options.ChatTemplate))
        {
            failures.Add($"{prefix}:ChatTemplate '{options.ChatTemplate}' is not one of {string.Join(", ", Enum.GetNames<ChatTemplateKind>())}.");
        }

        if (options.IntraOpThreads is < 1)
        {
            failures.Add($"{prefix}:IntraOpThreads must be >= 1 (or unset); got {options.IntraOpThreads}.");
        }

        if (options.MaxLength is < 2)
        {
            failures.Add($"{prefix}:MaxLength must be >= 2 (or unset); got {options.MaxLength}.");
        }

        if (options.MaxBatchSize is < 1 or > Models.OnnxGenAIModel.MaxBatchSizeLimit)
        {
            failures.Add($"{prefix}:MaxBatchSize must be in [1, {Models.OnnxGenAIModel.MaxBatchSizeLimit}] (1 turns batching off); got {options.MaxBatchSize}.");
        }

        if (options.ExecutionProvider is { } provider && string.IsNullOrWhiteSpace(provider))
        {
            failures.Add($"{prefix}:ExecutionProvider must be a provider name such as cpu, cuda or dml (or unset).");
        }

        if (options.Generation is null)
        {
            failures.Add($"{prefix}:Generation must not be null.");
        }
        else
        {
            try
            {
                options.Generation.Validate();
            }
            catch (ArgumentException ex)
            {
                failures.Add($"{prefix}:Generation:{ex.ParamName}: {ex.Message.Split(" (Parameter", 2)[0]}");
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
