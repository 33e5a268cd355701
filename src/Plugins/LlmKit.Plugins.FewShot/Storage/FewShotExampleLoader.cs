using System.Globalization;
using System.Text;
using System.Text.Json;

namespace LlmKit.Plugins.FewShot.Storage;

/// <summary>
/// Reads examples from JSONL (one object per line: <c>{"input": "...", "output": "...", "label": "...", "metadata": {...}}</c>)
/// and from CSV/TSV files (RFC 4180 quoting). A malformed line fails with an <see cref="ExampleFileFormatException"/>
/// that names the line number. Blank lines are skipped.
/// </summary>
/// <remarks>Stateless and thread-safe.</remarks>
public static class FewShotExampleLoader
{
    /// <summary>
    /// Loads a file, choosing the format from its extension: .jsonl/.ndjson, .csv (<see cref="DelimitedExampleFormat.Csv"/>)
    /// or .tsv (<see cref="DelimitedExampleFormat.Tsv"/>). Use <see cref="LoadDelimitedAsync"/> for other layouts.
    /// </summary>
    /// <param name="path">The file.</param>
    /// <param name="cancellationToken">Cancels reading.</param>
    /// <exception cref="NotSupportedException">The extension is not .jsonl, .ndjson, .csv or .tsv.</exception>
    public static Task<IReadOnlyList<FewShotExample>> LoadFileAsync(string path, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        string extension = Path.GetExtension(path).ToLowerInvariant();
        return extension switch
        {
            ".jsonl" or ".ndjson" => LoadJsonLinesAsync(path, cancellationToken),
            ".csv" => LoadDelimitedAsync(path, DelimitedExampleFormat.Csv, cancellationToken),
            ".tsv" => LoadDelimitedAsync(path, DelimitedExampleFormat.Tsv, cancellationToken),
            _ => throw new NotSupportedException(
                $"Cannot tell the format of '{path}' from its extension '{extension}': use .jsonl, .ndjson, .csv or .tsv, or call LoadJsonLinesAsync / LoadDelimitedAsync."),
        };
    }

    /// <summary>Loads a JSONL file.</summary>
    /// <exception cref="ExampleFileFormatException">A line is not a JSON object with a string "input" and a string "output" (or "label").</exception>
    public static async Task<IReadOnlyList<FewShotExample>> LoadJsonLinesAsync(string path, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        using var reader = new StreamReader(path, Encoding.UTF8);
        return await ReadJsonLinesAsync(reader, path, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Reads JSONL from a reader.</summary>
    /// <param name="reader">The text.</param>
    /// <param name="sourceName">Name used in error messages.</param>
    /// <param name="cancellationToken">Cancels reading.</param>
    /// <exception cref="ExampleFileFormatException">A line is malformed; the message names its number.</exception>
    public static async Task<IReadOnlyList<FewShotExample>> ReadJsonLinesAsync(TextReader reader, string sourceName = "JSONL", CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reader);
        var examples = new List<FewShotExample>();
        int lineNumber = 0;
        while (await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            examples.Add(ParseJsonLine(line, sourceName, lineNumber));
        }

        return examples;
    }

    /// <summary>Loads a CSV or TSV file.</summary>
    /// <exception cref="ExampleFileFormatException">A row is malformed (unterminated quote, missing column, empty input).</exception>
    public static async Task<IReadOnlyList<FewShotExample>> LoadDelimitedAsync(string path, DelimitedExampleFormat format, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        using var reader = new StreamReader(path, Encoding.UTF8);
        return await ReadDelimitedAsync(reader, format, path, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Reads CSV or TSV from a reader.</summary>
    /// <param name="reader">The text.</param>
    /// <param name="format">Delimiter and column mapping.</param>
    /// <param name="sourceName">Name used in error messages.</param>
    /// <param name="cancellationToken">Cancels reading.</param>
    /// <exception cref="ExampleFileFormatException">A row is malformed; the message names its line number.</exception>
    /// <exception cref="ArgumentException">A column of <paramref name="format"/> is not in the header or not a valid index.</exception>
    public static async Task<IReadOnlyList<FewShotExample>> ReadDelimitedAsync(TextReader reader, DelimitedExampleFormat format, string sourceName = "CSV", CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ArgumentNullException.ThrowIfNull(format);
        var rows = new DelimitedRowReader(reader, format.Delimiter, format.Quoted, sourceName);
        var examples = new List<FewShotExample>();
        ColumnMap? map = null;
        if (format.HasHeader)
        {
            var header = await rows.ReadAsync(cancellationToken).ConfigureAwait(false);
            if (header is null)
            {
                return examples;
            }

            map = ColumnMap.Resolve(format, header.Value.Fields);
        }

        map ??= ColumnMap.Resolve(format, header: null);
        while (await rows.ReadAsync(cancellationToken).ConfigureAwait(false) is { } row)
        {
            if (row.Fields.Count == 1 && row.Fields[0].Length == 0)
            {
                continue; // blank line
            }

            examples.Add(map.ToExample(row.Fields, format, sourceName, row.LineNumber));
        }

        return examples;
    }

    private static FewShotExample ParseJsonLine(string line, string sourceName, int lineNumber)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(line);
        }
        catch (JsonException ex)
        {
            throw new ExampleFileFormatException(sourceName, lineNumber, $"not valid JSON ({ex.Message})", ex);
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new ExampleFileFormatException(sourceName, lineNumber, $"expected a JSON object but found {root.ValueKind}.");
            }

            string? input = ReadString(root, "input", sourceName, lineNumber);
            string? output = ReadString(root, "output", sourceName, lineNumber);
            string? label = ReadString(root, "label", sourceName, lineNumber);
            if (string.IsNullOrWhiteSpace(input))
            {
                throw new ExampleFileFormatException(sourceName, lineNumber, "the \"input\" property is missing or empty.");
            }

            output ??= label ?? throw new ExampleFileFormatException(sourceName, lineNumber, "the \"output\" property is missing (and there is no \"label\" to use instead).");
            Dictionary<string, string>? metadata = null;
            if (root.TryGetProperty("metadata", out var meta) && meta.ValueKind != JsonValueKind.Null)
            {
                if (meta.ValueKind != JsonValueKind.Object)
                {
                    throw new ExampleFileFormatException(sourceName, lineNumber, "\"metadata\" must be a JSON object.");
                }

                metadata = new Dictionary<string, string>(StringComparer.Ordinal);
                foreach (var property in meta.EnumerateObject())
                {
                    metadata[property.Name] = property.Value.ValueKind == JsonValueKind.String
                        ? property.Value.GetString()!
                        : property.Value.GetRawText();
                }
            }

            return new FewShotExample(input, output, label, metadata);
        }
    }

    private static string? ReadString(JsonElement root, string name, string sourceName, int lineNumber)
    {
        if (!root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return value.ValueKind switch
        {
            JsonValueKind.String => value.GetString(),
            JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => value.GetRawText(),
            _ => throw new ExampleFileFormatException(sourceName, lineNumber, $"\"{name}\" must be a string but is {value.ValueKind}."),
        };
    }

    private sealed class ColumnMap(int input, int? output, int? label)
    {
        private const string DefaultOutput = "output";
        private const string DefaultLabel = "label";

        public static ColumnMap Resolve(DelimitedExampleFormat format, IReadOnlyList<string>? header)
        {
            int input = Find(format.InputColumn, nameof(format.InputColumn), header, required: true)!.Value;
            // The default column names are optional in a header: no "label" means no labels, and no "output" means the
            // label is the output (as in JSONL). Names the caller chose must exist, so a typo is reported, not ignored.
            bool outputRequired = !(header is not null && format.OutputColumn == DefaultOutput);
            int? output = format.OutputColumn is null ? null : Find(format.OutputColumn, nameof(format.OutputColumn), header, outputRequired);
            bool labelRequired = format.LabelColumn is not null && !(header is not null && format.LabelColumn == DefaultLabel);
            int? label = format.LabelColumn is null ? null : Find(format.LabelColumn, nameof(format.LabelColumn), header, labelRequired);
            if (output is null && label is null)
            {
                string where = header is null ? "the format" : $"the header [{string.Join(", ", header)}]";
                throw new ArgumentException($"{where} has neither an output column nor a label column to use as the output.", nameof(format));
            }

            return new ColumnMap(input, output, label);
        }

        public FewShotExample ToExample(IReadOnlyList<string> fields, DelimitedExampleFormat format, string sourceName, int lineNumber)
        {
            int needed = Math.Max(input, Math.Max(output ?? 0, label ?? 0)) + 1;
            if (fields.Count < needed)
            {
                throw new ExampleFileFormatException(sourceName, lineNumber, $"expected at least {needed} fields but found {fields.Count}.");
            }

            string inputText = fields[input].Trim();
            if (inputText.Length == 0)
            {
                throw new ExampleFileFormatException(sourceName, lineNumber, "the input field is empty.");
            }

            string? labelText = label is null ? null : fields[label.Value].Trim();
            string? outputText = output is null ? null : fields[output.Value];
            if (outputText is null)
            {
                outputText = labelText is not null && format.LabelNames is not null && format.LabelNames.TryGetValue(labelText, out var name)
                    ? name
                    : labelText!;
            }

            return new FewShotExample(inputText, outputText, labelText);
        }

        private static int? Find(string column, string parameter, IReadOnlyList<string>? header, bool required)
        {
            if (header is not null)
            {
                for (int i = 0; i < header.Count; i++)
                {
                    if (string.Equals(header[i].Trim(), column, StringComparison.OrdinalIgnoreCase))
                    {
                        return i;
                    }
                }
            }

            if (int.TryParse(column, NumberStyles.None, CultureInfo.InvariantCulture, out int index))
            {
                return index;
            }

            if (!required)
            {
                return null;
            }

            string where = header is null ? "the file has no header, so columns must be 0-based indexes" : $"the header has [{string.Join(", ", header)}]";
            throw new ArgumentException($"{parameter} '{column}' was not found: {where}.", parameter);
        }
    }

    /// <summary>Reads RFC 4180 rows: quoted fields may hold delimiters, doubled quotes and line breaks.</summary>
    private sealed class DelimitedRowReader(TextReader reader, char delimiter, bool quoted, string sourceName)
    {
        private int _lineNumber;

        public async Task<(IReadOnlyList<string> Fields, int LineNumber)?> ReadAsync(CancellationToken cancellationToken)
        {
            string? line = await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false);
            if (line is null)
            {
                return null;
            }

            _lineNumber++;
            int startLine = _lineNumber;
            var fields = new List<string>();
            var field = new StringBuilder();
            bool inQuotes = false;
            bool fieldWasQuoted = false;
            while (true)
            {
                for (int i = 0; i < line.Length; i++)
                {
                    char c = line[i];
                    if (inQuotes)
                    {
                        if (c != '"')
                        {
                            field.Append(c);
                        }
                        else if (i + 1 < line.Length && line[i + 1] == '"')
                        {
                            field.Append('"');
                            i++;
                        }
                        else
                        {
                            inQuotes = false;
                        }
                    }
                    else if (c == delimiter)
                    {
                        fields.Add(field.ToString());
                        field.Clear();
                        fieldWasQuoted = false;
                    }
                    else if (quoted && c == '"' && field.Length == 0 && !fieldWasQuoted)
                    {
                        inQuotes = true;
                        fieldWasQuoted = true;
                    }
                    else
                    {
                        field.Append(c);
                    }
                }

                if (!inQuotes)
                {
                    break;
                }

                // A quoted field continues on the next physical line.
                line = await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false);
                if (line is null)
                {
                    throw new ExampleFileFormatException(sourceName, startLine, "a quoted field is never closed.");
                }

                _lineNumber++;
                field.Append('\n');
            }

            fields.Add(field.ToString());
            return (fields, startLine);
        }
    }
}
