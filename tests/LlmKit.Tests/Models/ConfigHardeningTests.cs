using System.Text.Json.Nodes;
using LlmKit.Generation;
using LlmKit.Models;
using LlmKit.Testing;
using Microsoft.Extensions.Logging;

namespace LlmKit.Tests.Models;

/// <summary>
/// Hostile or mistaken genai_config.json values: each fails at load with the file, the JSON path and the value,
/// before anything is allocated from it; nothing crashes with a NullReferenceException or an OutOfMemoryException.
/// </summary>
public sealed class ConfigHardeningTests : IDisposable
{
    private readonly TempModelFolder _folder = TempModelFolder.CopyOf(TestModels.Stories260KFolder);

    private string Copy => _folder.Path;

    public void Dispose() => _folder.Dispose();

    [Theory]
    [InlineData("""{"model":null}""", "$.model")]
    [InlineData("""{"model":{"decoder":null}}""", "$.model.decoder")]
    [InlineData("""{"model":{"decoder":{"inputs":null}}}""", "$.model.decoder.inputs")]
    [InlineData("""{"model":{"decoder":{"outputs":5}}}""", "$.model.decoder.outputs")]
    [InlineData("""{"search":null,"model":{"decoder":{}}}""", "$.search")]
    [InlineData("""[1,2]""", "$")]
    public void Null_or_mistyped_sections_are_named(string json, string jsonPath)
    {
        File.WriteAllText(ConfigPath, json);
        var ex = Assert.Throws<ModelFolderException>(() => OnnxGenAIModel.Load(Copy));
        Assert.Contains(jsonPath, ex.Message, StringComparison.Ordinal);
        Assert.Contains("genai_config.json", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Null_sections_inside_a_real_config_are_named()
    {
        EditConfig(c => c["model"]!["decoder"]!["inputs"] = null);
        var ex = Assert.Throws<ModelFolderException>(() => OnnxGenAIModel.Load(Copy));
        Assert.Contains("$.model.decoder.inputs must be a JSON object (was null)", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Negative_bos_token_id_is_refused_not_dropped()
    {
        EditConfig(c => c["model"]!["bos_token_id"] = -5);
        var ex = Assert.Throws<ModelFolderException>(() => OnnxGenAIModel.Load(Copy));
        Assert.Contains("$.model.bos_token_id", ex.Message, StringComparison.Ordinal);
        Assert.Contains("-5", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("top_k", -1)]
    [InlineData("top_p", 0)]
    [InlineData("temperature", -0.5)]
    [InlineData("repetition_penalty", 0)]
    [InlineData("no_repeat_ngram_size", -2)]
    [InlineData("min_length", -1)]
    public void Bad_search_defaults_fail_at_load_naming_the_file_and_field(string field, double value)
    {
        EditConfig(c => c["search"]![field] = value);
        var ex = Assert.Throws<ModelFolderException>(() => OnnxGenAIModel.Load(Copy));
        Assert.Contains($"genai_config.json: $.search.{field}", ex.Message, StringComparison.Ordinal);
        Assert.Contains(value.ToString(System.Globalization.CultureInfo.InvariantCulture), ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("../../x.onnx")]
    [InlineData("/etc/hostname")]
    [InlineData("sub/../../model.onnx")]
    public void Decoder_filename_must_stay_inside_the_folder(string filename)
    {
        EditConfig(c => c["model"]!["decoder"]!["filename"] = filename);
        var ex = Assert.Throws<ModelFolderException>(() => OnnxGenAIModel.Load(Copy));
        Assert.Contains("$.model.decoder.filename", ex.Message, StringComparison.Ordinal);
        Assert.Contains("outside the model folder", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Unknown_model_type_names_the_supported_ones()
    {
        EditConfig(c => c["model"]!["type"] = "whisper");
        var ex = Assert.Throws<ModelFolderException>(() => OnnxGenAIModel.Load(Copy));
        Assert.Contains("'whisper'", ex.Message, StringComparison.Ordinal);
        Assert.Contains(string.Join(", ", GenAIConfigReader.SupportedModelTypes), ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("model", "adapters")]
    [InlineData("model", "vision")]
    [InlineData("decoder", "pipeline")]
    public void Fields_llmkit_cannot_act_on_fail_by_name(string section, string field)
    {
        EditConfig(c => (section == "model" ? c["model"]! : c["model"]!["decoder"]!)[field] = new JsonObject { ["x"] = 1 });
        var ex = Assert.Throws<ModelFolderException>(() => OnnxGenAIModel.Load(Copy));
        Assert.Contains($".{field} is set but LlmKit cannot act on it", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Beam_search_in_the_folder_defaults_is_honoured_not_ignored()
    {
        EditConfig(c =>
        {
            c["search"]!["num_beams"] = 3;
            c["search"]!["num_return_sequences"] = 2;
        });
        using var model = OnnxGenAIModel.Load(Copy);
        int[] prompt = model.Tokenizer.Encode("Once upon a time");

        // A token-by-token generator cannot beam: it says so, naming the folder's setting.
        var ex = Assert.Throws<NotSupportedException>(() => model.CreateGenerator(prompt));
        Assert.Contains("search.num_beams", ex.Message, StringComparison.Ordinal);

        // GenerateAsync runs the folder's beam search and returns its two sequences.
        var result = await model.GenerateAsync(prompt, new GenerationOptions { MaxNewTokens = 12 });
        var beams = model.BeamSearch(prompt, new GenerationOptions { MaxNewTokens = 12 });
        Assert.Equal(2, result.Sequences.Count);
        Assert.Equal(beams.Select(b => b.GeneratedTokenIds.ToArray()), result.Sequences.Select(s => s.TokenIds.ToArray()));

        var bad = EditedCopyFails(c => c["search"]!["num_return_sequences"] = 5);
        Assert.Contains("$.search.num_return_sequences", bad.Message, StringComparison.Ordinal);
    }

    private ModelFolderException EditedCopyFails(Action<JsonNode> edit)
    {
        EditConfig(edit);
        return Assert.Throws<ModelFolderException>(() => OnnxGenAIModel.Load(Copy));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(100_000)]
    public void Sliding_window_size_outside_the_context_is_named(int size)
    {
        EditConfig(c => c["model"]!["decoder"]!["sliding_window"] = new JsonObject { ["window_size"] = size });
        var ex = Assert.Throws<ModelFolderException>(() => OnnxGenAIModel.Load(Copy));
        Assert.Contains("$.model.decoder.sliding_window.window_size", ex.Message, StringComparison.Ordinal);
        Assert.Contains(size.ToString(System.Globalization.CultureInfo.InvariantCulture), ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("context_length", 2_000_000_000)]
    [InlineData("vocab_size", 2_000_000_000)]
    public void Huge_model_sizes_are_refused_before_allocating(string field, long value)
    {
        EditConfig(c => c["model"]![field] = value);
        long before = GC.GetTotalAllocatedBytes(precise: true);
        var ex = Assert.Throws<ModelFolderException>(() => OnnxGenAIModel.Load(Copy));
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;

        Assert.Contains($"$.model.{field}", ex.Message, StringComparison.Ordinal);
        Assert.Contains("2000000000", ex.Message, StringComparison.Ordinal);
        Assert.True(allocated < 64L << 20, $"refusing the config allocated {allocated:N0} bytes"); // a few MB of JSON and strings, not gigabytes
    }

    [Theory]
    [InlineData(100_000_000)]
    [InlineData(1000)]
    public void Layer_counts_beyond_the_cap_or_the_graph_are_refused_before_building_names(int layers)
    {
        EditConfig(c => c["model"]!["decoder"]!["num_hidden_layers"] = layers);
        long before = GC.GetTotalAllocatedBytes(precise: true);
        var ex = Assert.Throws<ModelFolderException>(() => OnnxGenAIModel.Load(Copy));
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;

        Assert.Contains("num_hidden_layers", ex.Message, StringComparison.Ordinal);
        Assert.True(allocated < 64L << 20, $"refusing the config allocated {allocated:N0} bytes");
    }

    [Fact]
    public void A_kv_cache_larger_than_memory_fails_at_load_with_advice()
    {
        // A synthetic model with 4 layers x 4 KV heads of size 64 at the largest accepted context (4,194,304 positions):
        // 2 x 4 x 4 x 64 x 4 bytes = 8 KB per position, 34 GB per sequence (68 GB with ping-pong buffers), more than
        // half of any machine this suite runs on (24 GB here).
        var wide = new LlmKit.ModelBuilder.LlamaConfig(Dim: 256, HiddenDim: 256, Layers: 4, Heads: 4, KvHeads: 4, VocabSize: 300, SeqLen: 64);
        using var copy = TempModelFolder.CopyOf(TestModels.Synthetic(wide, seed: 1));
        copy.EditConfig(c =>
        {
            c["model"]!["context_length"] = GenAIConfigReader.MaxContextLength;
            c["search"]!["max_length"] = GenAIConfigReader.MaxContextLength;
        });
        string folder = copy.Path;

        var ex = Assert.Throws<ModelFolderException>(() => OnnxGenAIModel.Load(folder));
        Assert.Contains("KV cache", ex.Message, StringComparison.Ordinal);
        Assert.Contains("OnnxGenAIModelOptions.MaxLength", ex.Message, StringComparison.Ordinal);

        // The advice works: the same folder loads with a max length that fits.
        using var model = OnnxGenAIModel.Load(folder, new OnnxGenAIModelOptions { MaxLength = 1024 });
        Assert.Equal(1024, model.MaxLength);
    }

    [Fact]
    public void Load_logs_the_kv_cache_bytes_per_sequence()
    {
        var logger = new ListLogger();
        using var model = OnnxGenAIModel.Load(Copy, new OnnxGenAIModelOptions { Logger = logger });

        // stories260K: 5 layers x 2 tensors x 4 KV heads x 512 positions x head size 8 x 4 bytes, twice (ping-pong).
        Assert.Equal(5L * 2 * 4 * 512 * 8 * 4 * 2, model.KvCacheBytesPerSequence);
        var line = Assert.Single(logger.Lines);
        Assert.Equal(LogLevel.Information, line.Level);
        Assert.Contains(model.KvCacheBytesPerSequence.ToString(System.Globalization.CultureInfo.InvariantCulture), line.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_pool_keeps_no_more_kv_cache_than_its_cap()
    {
        int[] prompt = LoadedModels.Stories260K.Tokenizer.Encode("Once upon a time, there was a little girl");
        var options = new GenerationOptions { Temperature = 0, MaxNewTokens = 8 };

        using (var pooling = OnnxGenAIModel.Load(Copy))
        {
            await pooling.GenerateAsync(prompt, options);
            Assert.True((await pooling.GenerateAsync(prompt, options)).CachedPromptTokenCount > 0);
        }

        using (var capped = OnnxGenAIModel.Load(Copy, new OnnxGenAIModelOptions { MaxPooledKvCacheBytes = 0 }))
        {
            await capped.GenerateAsync(prompt, options);
            Assert.Equal(0, (await capped.GenerateAsync(prompt, options)).CachedPromptTokenCount);
        }

        using var one = OnnxGenAIModel.Load(Copy, new OnnxGenAIModelOptions { MaxPooledKvCacheBytes = 0 });
        using var oneSequence = OnnxGenAIModel.Load(Copy, new OnnxGenAIModelOptions { MaxPooledKvCacheBytes = one.KvCacheBytesPerSequence });
        int[] other = LoadedModels.Stories260K.Tokenizer.Encode("Tom and Sam played ball");
        await oneSequence.GenerateAsync(prompt, options);
        await oneSequence.GenerateAsync(other, options); // evicts the first sequence: only one fits the cap
        var again = await oneSequence.GenerateAsync(prompt, options);
        Assert.Equal(prompt.AsSpan().CommonPrefixLength(other), again.CachedPromptTokenCount);
    }

    private string ConfigPath => _folder.ConfigPath;

    private void EditConfig(Action<JsonNode> edit) => _folder.EditConfig(edit);

    private sealed class ListLogger : ILogger
    {
        public List<(LogLevel Level, string Message)> Lines { get; } = [];

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Lines.Add((logLevel, formatter(state, exception)));
    }
}
